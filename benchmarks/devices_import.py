"""Import devices from CSV files and publish them, as the API and the CLI do, stage by stage.

Run: .venv/bin/python benchmarks/devices_import.py [ROWS ...]   (default: 100000)

A fresh data directory in a temporary folder, one tenant with six extensions; then, for each
ROWS in turn, into the same database (``100000 1000000``: a hundred thousand, then a million
more), a CSV of that many Yealink T46S rows with new MACs, each with one or two lines.
Timed per import, from the request to the phones served:

- parse: the CSV text into rows (control/domain/devicecsv.py);
- check: every row against the file and the truth (``fleet.plan_import``);
- write: the new devices, lines, totals and audit entries (``fleet.write_import``), and
  the rest of the request's transaction (statistics, the job queued, the commit);
- publish: the ``recompile`` job that compiles them into LMDB, run to its end here (the
  control plane's runner does the same in its own thread).

Then the edge's own answer (``EdgeApp.answer``, over the LMDB environment the control plane
wrote: one process may open it once) is asked for a sample of the new phones' files: each must be a 200. Last, a
re-import of the same file, which must change nothing.
"""

from __future__ import annotations

import functools
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lmdb

from control import fleet
from control.api.schemas import AccountIn, ExtensionIn, TenantIn
from control.domain.catalog import MODELS, device_files
from control.domain.devicecsv import read_rows
from control.wiring import build_control
from edge.http.app import PREFIX, EdgeApp
from provedge.formats.macaddr import colon_form

EDGE = "http://edge.example:8080"
SAMPLE = 1000  # every SAMPLE-th phone of an import is fetched from the edge


def _timed(module: Any, name: str, spent: dict[str, float]) -> None:
    """``module.name`` wrapped so that its time adds up in ``spent[name]``."""
    real: Callable[..., Any] = getattr(module, name)

    @functools.wraps(real)
    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return real(*args, **kwargs)
        finally:
            spent[name] = spent.get(name, 0.0) + time.perf_counter() - started

    setattr(module, name, timed)


def _csv(first: int, rows: int) -> str:
    return "mac,model,name,line1,line2\n" + "".join(
        f"0015{n:08x},yealink-t46s,Desk {n},10{n % 6 + 1},"
        f"{'' if n % 2 else '10' + str((n + 1) % 6 + 1)}\n"
        for n in range(first, first + rows)
    )


def _served(env: lmdb.Environment, url_key: str, first: int, rows: int) -> int:
    """How many of the sampled phones' files the edge answers with a 200 (all must)."""
    app = EdgeApp(env)
    fetched = 0
    for n in [*range(first, first + rows, SAMPLE), first + rows - 1]:
        mac = f"0015{n:08x}"
        for name, _ in device_files(MODELS["yealink-t46s"], mac):
            status, _, body = app.answer("GET", f"{PREFIX}{url_key}/{name}", None, None, None)
            own = (mac.encode(), colon_form(mac).encode())  # the boot file, the config
            assert status == 200 and any(part in body for part in own), (name, status)
            fetched += 1
    return fetched


def main(sizes: list[int]) -> None:
    spent: dict[str, float] = {}
    _timed(fleet, "plan_import", spent)
    _timed(fleet, "write_import", spent)
    with tempfile.TemporaryDirectory() as tmp:
        ctl = build_control(Path(tmp), EDGE)
        tenant = ctl.create_tenant(TenantIn(name="b", realm="b.example", sip_server="pbx.b"))
        for n in range(1, 7):
            ctl.create_account(AccountIn(tenant=tenant["id"], username=f"u{n}"))
            ctl.create_extension(
                ExtensionIn(tenant=tenant["id"], number=f"10{n}", accounts=[f"u{n}"])
            )
        first = 0
        for rows in sizes:
            spent.clear()
            text = _csv(first, rows)
            held = ctl.list_devices(tenant["id"], limit=1)["total"]
            started, cpu = time.perf_counter(), time.process_time()
            parsed = read_rows(text)
            parsed_at = time.perf_counter()
            answer = ctl.import_devices(tenant["id"], parsed)
            answered_at, answered_cpu = time.perf_counter(), time.process_time()
            assert answer["created"] == rows and answer["job"] is not None, answer
            ctl.jobs.run_until_idle()
            done_at, done_cpu = time.perf_counter(), time.process_time()
            job = ctl.get_job(answer["job"]["id"])
            assert job["state"] == "done" and job["done"] >= rows, job
            (unpublished,) = ctl.db.query_one(
                "SELECT count(*) FROM devices WHERE published_rev < rev"
            )
            assert unpublished == 0
            check, write = spent["plan_import"], spent["write_import"]
            (url_key,) = ctl.db.query_one(
                "SELECT url_key FROM tenants WHERE id = ?", (tenant["id"],)
            )
            fetched = _served(ctl.publisher._env, url_key, first, rows)
            again_started = time.perf_counter()
            again = ctl.import_devices(tenant["id"], read_rows(text))
            again_s = time.perf_counter() - again_started
            assert (again["created"], again["changed"], again["unchanged"]) == (0, 0, rows)
            total = done_at - started
            print(
                f"{rows:,} rows into {held:,} devices: {total:.1f} s to the phones served"
                f" ({rows / total:,.0f}/s) = parse {parsed_at - started:.1f}"
                f" + check {check:.1f} + write {write:.1f}"
                f" + commit {answered_at - parsed_at - check - write:.1f}"
                f" + publish (job) {done_at - answered_at:.1f}; CPU time: request"
                f" {answered_cpu - cpu:.1f} s, job {done_cpu - answered_cpu:.1f} s;"
                f" {fetched} files fetched from the edge, all 200;"
                f" re-import (no change) {again_s:.1f} s"
            )
            first += rows
        ctl.close()


if __name__ == "__main__":
    main([int(arg) for arg in sys.argv[1:]] or [100_000])
