"""The one path into LMDB under concurrency, and what makes a republish necessary."""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
from collections.abc import Iterable
from pathlib import Path

from control.api.schemas import DeviceIn, TenantIn
from control.publish.compiler import DEFAULT_TEMPLATES, Compiler
from control.publish.pending import templates_fingerprint
from control.publish.publisher import Publication
from control.service import Control
from control.wiring import build_control
from tests.test_accounts import V1_ACCOUNTS
from tests.test_service import EDGE, _blobs, _fleet

CONTROL = Path(__file__).resolve().parent.parent / "control"


def test_a_device_deleted_while_a_batch_is_written_is_never_served(tmp_path: Path) -> None:
    ctl = build_control(tmp_path, EDGE)
    _, macs = _fleet(ctl)
    with ctl.db.transaction() as conn:  # every device ahead of LMDB, as after a tenant edit
        conn.execute("UPDATE devices SET rev = rev + 1")
    writing, release = threading.Event(), threading.Event()
    real_publish = ctl.publisher.publish

    def slow_publish(batch: Iterable[Publication]) -> None:
        batch = list(batch)
        if any(p.files and p.owner.startswith("device/") for p in batch):
            writing.set()  # the batch was compiled from a snapshot that has macs[0]
            release.wait(10)
        real_publish(batch)

    ctl.publisher.publish = slow_publish  # type: ignore[method-assign]
    recompile = threading.Thread(target=ctl.publish_pending)
    recompile.start()
    assert writing.wait(10)
    delete = threading.Thread(target=ctl.delete_device, args=(macs[0],))
    delete.start()
    deadline = time.monotonic() + 10
    while ctl.db.query_one("SELECT 1 FROM devices WHERE mac = ?", (macs[0],)):
        assert time.monotonic() < deadline, "the delete never committed"
        time.sleep(0.01)
    release.set()
    recompile.join(10)
    delete.join(10)
    ctl.close()
    blobs = _blobs(tmp_path)
    assert not [key for key in blobs if macs[0].encode() in key]
    assert [key for key in blobs if macs[1].encode() in key]  # the others were published


def test_a_mac_deleted_and_added_again_is_served_as_the_new_device(tmp_path: Path) -> None:
    ctl = build_control(tmp_path, EDGE)
    tenant, macs = _fleet(ctl)
    with ctl.db.transaction() as conn:  # delete queued but not yet applied, then re-added
        conn.execute("DELETE FROM devices WHERE mac = ?", (macs[0],))
    ctl.create_device(DeviceIn(tenant=tenant["id"], mac=macs[0], model="yealink-t46g", name="new"))
    ctl.publish_pending()
    ctl.close()
    files = [blob for key, blob in _blobs(tmp_path).items() if macs[0].encode() in key]
    assert files and any(b"new" in blob for blob in files)


def _copy(tmp_path: Path) -> tuple[Path, list[Path]]:
    templates = tmp_path / "templates"
    shutil.copytree(DEFAULT_TEMPLATES, templates)
    modules = []
    for name in ("domain/catalog.py", "domain/variables.py"):
        copy = tmp_path / name.replace("/", "_")
        copy.write_text((CONTROL / name).read_text())
        modules.append(copy)
    return templates, modules


def test_a_comment_or_docstring_in_the_code_republishes_nothing(tmp_path: Path) -> None:
    templates, modules = _copy(tmp_path)
    before = templates_fingerprint(Compiler(templates), EDGE, modules)
    catalog = modules[0]
    catalog.write_text(
        '"""A reworded module docstring."""\n# an operator\'s note\n'
        + catalog.read_text().split('"""', 2)[2].replace("\n\n", "\n\n# spacing note\n", 1)
    )
    assert templates_fingerprint(Compiler(templates), EDGE, modules) == before


def test_a_code_change_that_could_change_the_bytes_republishes(tmp_path: Path) -> None:
    templates, modules = _copy(tmp_path)
    before = templates_fingerprint(Compiler(templates), EDGE, modules)
    variables = modules[1]
    variables.write_text(variables.read_text() + "\nEXTRA = 1\n")
    assert templates_fingerprint(Compiler(templates), EDGE, modules) != before


def test_the_shipped_shaping_modules_are_fingerprinted(tmp_path: Path) -> None:
    compiler = Compiler()
    assert templates_fingerprint(compiler, EDGE) == templates_fingerprint(compiler, EDGE)
    assert templates_fingerprint(compiler, EDGE) != templates_fingerprint(compiler, EDGE + "/x")


# ---- the publish lag and generation (control/publish/lag.py, schema.sql "Ahead of LMDB") ----
def _ahead_since(ctl: Control, mac: str) -> float:
    row = ctl.db.query_one("SELECT ahead_since FROM devices WHERE mac = ?", (mac,))
    assert row is not None and row["ahead_since"] is not None
    return float(row["ahead_since"])


def _lag(ctl: Control, kind: str) -> tuple[int, float]:
    buckets, seconds = ctl.publishing.lag.snapshot()[kind]
    return sum(buckets), seconds


def test_the_lag_runs_from_the_first_change_not_yet_in_lmdb(tmp_path: Path) -> None:
    ctl = build_control(tmp_path, EDGE)
    try:
        _, macs = _fleet(ctl)
        # each device published twice (created, then its lines set), each account once
        assert _lag(ctl, "device")[0] == 6 and _lag(ctl, "account")[0] == 3
        inserted = _ahead_since(ctl, macs[0])
        generation, _ = ctl.publisher.generation()
        with ctl.db.transaction() as conn:  # a change of its files, after its publish
            conn.execute("UPDATE devices SET rev = rev + 1 WHERE mac = ?", (macs[0],))
        first = _ahead_since(ctl, macs[0])
        assert first >= inserted
        with ctl.db.transaction() as conn:  # a second one waits with the first: same time
            conn.execute("UPDATE devices SET rev = rev + 1, name = 'x' WHERE mac = ?", (macs[0],))
        assert _ahead_since(ctl, macs[0]) == first
        count, seconds = _lag(ctl, "device")
        assert ctl.publish_pending() == 1
        after_count, after_seconds = _lag(ctl, "device")
        new_generation, published_at = ctl.publisher.generation()
        assert after_count == count + 1 and new_generation == generation + 1
        # timed to the end of the transaction, which came after the generation's stamp
        assert after_seconds - seconds >= published_at - first
        assert ctl.db.query_one(
            "SELECT published_rev = rev AS done FROM devices WHERE mac = ?", (macs[0],)
        )["done"]  # fmt: skip
    finally:
        ctl.close()


def test_a_change_made_during_a_publish_is_timed_from_before_its_snapshot(
    tmp_path: Path,
) -> None:
    ctl = build_control(tmp_path, EDGE)
    try:
        _, macs = _fleet(ctl)
        with ctl.db.transaction() as conn:
            conn.execute("UPDATE devices SET rev = rev + 1 WHERE mac = ?", (macs[0],))
        writing, release = threading.Event(), threading.Event()
        real_publish = ctl.publisher.publish

        def slow_publish(batch: Iterable[Publication]) -> None:
            writing.set()
            release.wait(10)
            real_publish(batch)

        ctl.publisher.publish = slow_publish  # type: ignore[method-assign]
        started = time.time()
        step = threading.Thread(target=ctl.publishing.step, kwargs={"macs": [macs[0]]})
        step.start()
        assert writing.wait(10)
        with ctl.db.transaction() as conn:  # after the step's snapshot, before its marks
            conn.execute("UPDATE devices SET rev = rev + 1, name = 'y' WHERE mac = ?", (macs[0],))
        changed = time.time()
        release.set()
        step.join(10)
        ctl.publisher.publish = real_publish  # type: ignore[method-assign]
        row = ctl.db.query_one("SELECT * FROM devices WHERE mac = ?", (macs[0],))
        assert row is not None and row["published_rev"] < row["rev"]  # still ahead
        assert started <= row["ahead_since"] <= changed  # the snapshot's time: an upper bound
    finally:
        ctl.close()


def test_a_database_from_before_the_column_times_new_rows(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "provedge.sqlite3")
    conn.executescript(V1_ACCOUNTS)  # its tenants table gets the column by ALTER TABLE
    conn.close()
    ctl = build_control(tmp_path, EDGE)
    try:
        ctl.publish_pending()
        old = ctl.db.query_one("SELECT ahead_since FROM tenants WHERE id = 1")
        assert old is not None and old["ahead_since"] is None  # unknown: published, not timed
        assert _lag(ctl, "tenant")[0] == 0
        made = ctl.create_tenant(TenantIn(name="new", realm="n.example", sip_server="pbx.n"))
        row = ctl.db.query_one("SELECT ahead_since FROM tenants WHERE id = ?", (made["id"],))
        assert row is not None and row["ahead_since"] is not None  # the insert trigger's
        assert _lag(ctl, "tenant")[0] == 1
    finally:
        ctl.close()
