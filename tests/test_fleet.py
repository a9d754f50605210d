"""Devices by the thousand through the service: import (all or nothing, dry run, re-import
changes nothing, a job when large), export as CSV, and the list: the assigned/unassigned
filter, the search, every sort with its cursor, the total, and the 422s."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from control import devicelist, reboots
from control.api.app import create_app
from control.api.auth import create_token
from control.api.schemas import AccountIn, DeviceIn, ExtensionIn, TenantIn
from control.devicelist import FILTERS
from control.domain.devicecsv import read_rows
from control.domain.errors import ServiceError
from control.service import Control
from control.wiring import build_control
from edge.state.writer import commit
from provedge.formats import edgestate
from provedge.formats.edgestate import Fetch
from tests.test_edgestate_writer import poll
from tests.test_service import EDGE

GOOD = """mac,model,name,line1,line2
00:15:65:00:00:01,yealink-t46s,Reception,101,102
0015.6500.0002,Yealink-T46S,Office,101,
00-15-65-00-00-03,fanvil-x4u,,,
"""


@pytest.fixture
def ctl(tmp_path: Path) -> Iterator[Control]:
    control = build_control(tmp_path, EDGE)
    yield control
    control.close()


def _tenant(ctl: Control, name: str = "f") -> int:
    tenant = ctl.create_tenant(TenantIn(name=name, realm="f.example", sip_server="pbx.f.example"))
    for n in (1, 2):
        account = ctl.create_account(AccountIn(tenant=tenant["id"], username=f"{name}u{n}"))
        ctl.create_extension(
            ExtensionIn(tenant=tenant["id"], number=f"10{n}", accounts=[account["username"]])
        )
    return int(tenant["id"])


def test_a_file_is_imported_and_reimporting_it_changes_nothing(ctl: Control) -> None:
    tenant = _tenant(ctl)
    dry = ctl.import_devices(tenant, read_rows(GOOD), dry_run=True)
    assert (dry["created"], dry["changed"], dry["unchanged"]) == (3, 0, 0)
    assert ctl.list_devices(tenant)["items"] == []  # a dry run writes nothing
    done = ctl.import_devices(tenant, read_rows(GOOD))
    assert (done["created"], done["job"]) == (3, None)
    devices = {d["mac"]: d for d in ctl.list_devices(tenant)["items"]}
    assert [line["extension"] for line in devices["001565000001"]["lines"]] == ["101", "102"]
    assert devices["001565000002"]["name"] == "Office" and devices["001565000001"]["published"]
    again = ctl.import_devices(tenant, read_rows(GOOD))
    assert (again["created"], again["changed"], again["unchanged"]) == (0, 0, 3)
    edited = GOOD.replace("Office,101,", "Office 2,102,101")
    changed = ctl.import_devices(tenant, read_rows(edited), dry_run=True)
    assert changed["changed_macs"] == ["001565000002"] and changed["unchanged"] == 2


def test_any_bad_row_names_each_problem_and_writes_nothing(ctl: Control) -> None:
    tenant = _tenant(ctl)
    other = _tenant(ctl, "g")
    ctl.create_device(DeviceIn(tenant=other, mac="0015650000ff", model="yealink-t46s"))
    bad = (
        GOOD
        + "zz:15:65:00:00:04,yealink-t46s,,,\n"  # row 4
        + "001565000005,nokia-3310,,,\n"  # row 5
        + "001565000001,yealink-t46s,,,\n"  # row 6: row 1's MAC
        + "0015650000ff,yealink-t46s,,,\n"  # row 7: another tenant's
        + "001565000008,yealink-t46s,,999,\n"  # row 8
        + "001565000009,grandstream-grp2612w,,101,102\n"  # fine: 2 lines
    )
    rows = read_rows(bad)
    rows[-1]["line3"] = "101"  # row 9: a third line on a 2-line model (and 101 twice)
    with pytest.raises(ServiceError) as refused:
        ctl.import_devices(tenant, rows)
    errors = refused.value.errors
    assert refused.value.status == 422
    assert set(errors) == {
        "rows[4].mac",
        "rows[5].model",
        "rows[6].mac",
        "rows[7].mac",
        "rows[8].line1",
        "rows[9].line3",
    }
    assert "row 1" in errors["rows[6].mac"] and "another tenant" in errors["rows[7].mac"]
    assert "999" in errors["rows[8].line1"]
    assert ctl.list_devices(tenant)["items"] == []


def test_too_many_lines_for_the_model(ctl: Control) -> None:
    tenant = _tenant(ctl)
    rows = [{"mac": "001565000010", "model": "grandstream-grp2612w", "line1": "101"}]
    rows[0].update(line2="102", line3="103")
    with pytest.raises(ServiceError) as refused:
        ctl.import_devices(tenant, rows)
    assert set(refused.value.errors) == {"rows[1].line3"}


def test_a_bad_header_is_refused() -> None:
    with pytest.raises(ServiceError) as refused:
        read_rows("mac,colour\n001565000001,red\n")
    assert {"columns.colour", "columns.model"} <= set(refused.value.errors)


def test_a_large_import_is_published_by_a_job(ctl: Control) -> None:
    tenant = _tenant(ctl)
    text = "mac,model\n" + "".join(f"0015660{n:05x},yealink-t46s\n" for n in range(1200))
    done = ctl.import_devices(tenant, read_rows(text))
    assert done["created"] == 1200 and done["job"] is not None
    ctl.jobs.run_until_idle()
    job = ctl.get_job(done["job"]["id"])
    assert job["state"] == "done" and job["done"] == 1200
    assert all(d["published"] for d in ctl.list_devices(tenant, limit=1000)["items"])


def test_export_is_the_filtered_list_and_imports_back(ctl: Control) -> None:
    tenant = _tenant(ctl)
    ctl.import_devices(tenant, read_rows(GOOD))
    exported = ctl.export_devices(tenant)
    assert exported.splitlines()[0] == "mac,model,name,line1,line2,line3,line4,line5,line6,blf"
    assert "001565000001,yealink-t46s,Reception,101,102,,,," in exported
    assert "password" not in exported
    assert ctl.import_devices(tenant, read_rows(exported))["unchanged"] == 3
    assigned = ctl.export_devices(tenant, "assigned").splitlines()[1:]
    unassigned = ctl.export_devices(tenant, "unassigned").splitlines()[1:]
    assert [row[:12] for row in assigned] == ["001565000001", "001565000002"]
    assert [row[:12] for row in unassigned] == ["001565000003"]


def test_the_filter_pages_with_the_keyset(ctl: Control) -> None:
    tenant = _tenant(ctl)
    text = "mac,model,line1\n" + "".join(
        f"00156500{n:04x},yealink-t46s,{'101' if n % 2 else ''}\n" for n in range(9)
    )
    ctl.import_devices(tenant, read_rows(text))
    for which, expected in (("assigned", 4), ("unassigned", 5), ("all", 9)):
        seen: list[str] = []
        cursor = None
        for _ in range(10):
            page = ctl.list_devices(tenant, limit=2, cursor=cursor, which=which)
            seen += [d["mac"] for d in page["items"]]
            assert page["total"] == expected
            if page["next_cursor"] is None:
                break
            cursor = page["next_cursor"]
        assert len(seen) == expected and seen == sorted(seen)
        lined = {bool(d["lines"]) for d in ctl.list_devices(tenant, which=which)["items"]}
        assert lined == {True, False} if which == "all" else {which == "assigned"}
    with pytest.raises(ServiceError) as refused:
        ctl.list_devices(tenant, which="some")
    assert "filter" in refused.value.errors


def test_cli_import_then_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from provedge.cli import main

    data = tmp_path / "data"
    ctl = build_control(data, EDGE)
    _tenant(ctl)
    ctl.close()
    good = tmp_path / "good.csv"
    good.write_text(GOOD)
    bad = tmp_path / "bad.csv"
    bad.write_text(GOOD + "001565000001,nokia,,,\n")
    base = ["--data", str(data), "--tenant", "f"]
    assert main(["devices", "import", str(bad), *base]) == 1
    assert "rows[4].model" in capsys.readouterr().err
    assert main(["devices", "import", str(good), *base, "--dry-run"]) == 0
    assert "3 would be created" in capsys.readouterr().out
    assert main(["devices", "import", str(good), *base, "--no-watch"]) == 0
    assert "job 1 queued" in capsys.readouterr().out
    ctl = build_control(data, EDGE)
    ctl.jobs.run_until_idle()  # what the control plane's runner does
    assert all(d["published"] for d in ctl.list_devices("f")["items"])
    ctl.close()
    out = tmp_path / "out.csv"
    assert main(["devices", "export", *base, "--filter", "unassigned", "-o", str(out)]) == 0
    assert out.read_text().splitlines()[1:] == ["001565000003,fanvil-x4u,,,,,,,,"]
    assert main(["devices", "import", str(good), *base, "--tenant", "nope"]) == 2


def test_remove_is_all_or_nothing_and_withdraws(ctl: Control) -> None:
    tenant = _tenant(ctl)
    other = _tenant(ctl, "g")
    ctl.import_devices(tenant, read_rows(GOOD))
    ctl.create_device(DeviceIn(tenant=other, mac="0015650000ff", model="yealink-t46s"))
    with pytest.raises(ServiceError) as refused:
        ctl.remove_devices(["00:15:65:00:00:01", "001565000077", "nonsense"])
    assert refused.value.status == 404
    assert set(refused.value.errors) == {"macs[1]", "macs[2]"}
    with pytest.raises(ServiceError):  # another tenant's device is unknown to a tenant
        ctl.remove_devices(["0015650000ff"], scope=tenant)
    assert len(ctl.list_devices(tenant)["items"]) == 3
    assert ctl.remove_devices(["00:15:65:00:00:01", "0015.6500.0002"], scope=tenant) == {
        "removed": 2
    }
    assert [d["mac"] for d in ctl.list_devices(tenant)["items"]] == ["001565000003"]
    (queued,) = ctl.db.query_one("SELECT count(*) FROM withdrawals")
    assert queued == 0  # applied before the answer
    with pytest.raises(ServiceError) as gone:
        ctl.get_device("001565000001")
    assert gone.value.status == 404


# ---- the list: search, sort, cursor, total ---------------------------------------------------
SEARCHED = """mac,model,name,line1
00:15:65:1a:00:01,yealink-t46s,Reception,101
00:15:65:1a:00:02,yealink-t54w,reception back,
00:15:65:2b:00:03,yealink-t46s,Office,
00:04:f2:00:00:04,polycom-vvx410,Lab 1,102
00:04:f2:00:00:05,polycom-vvx410,001565 spare,
"""


def _macs(page: dict[str, Any]) -> list[str]:
    return [d["mac"] for d in page["items"]]


def _walk(ctl: Control, tenant: int, limit: int = 2, **query: Any) -> tuple[list[str], int]:
    """Every page of a query, following the cursors (bounded); the MACs and the totals."""
    seen: list[str] = []
    totals: set[int] = set()
    cursor = None
    for _ in range(50):
        page = ctl.list_devices(tenant, limit=limit, cursor=cursor, **query)
        seen += _macs(page)
        totals.add(page["total"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(totals) == 1
    return seen, totals.pop()


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("00:15:65:1A", ["0015651a0001", "0015651a0002"]),
        ("00:15:65", ["0015651a0001", "0015651a0002", "0015652b0003"]),
        ("001565", ["0015651a0001", "0015651a0002", "0015652b0003", "0004f2000005"]),
        ("0015.651a", ["0015651a0001", "0015651a0002"]),
        ("00-15-65-1a-00-0", ["0015651a0001", "0015651a0002"]),
        ("0015651a0002", ["0015651a0002"]),
        ("RECEP", ["0015651a0001", "0015651a0002"]),  # a name prefix, any case
        ("ception", []),  # a prefix, not a substring
        ("lab", ["0004f2000004"]),
        ("t54w", ["0015651a0002"]),  # a model's id
        ("VVX 410", ["0004f2000004", "0004f2000005"]),  # a model's label
        ("  office ", ["0015652b0003"]),
        ("", ["0004f2000004", "0004f2000005", "0015651a0001", "0015651a0002", "0015652b0003"]),
    ],
)
def test_q_matches_mac_prefix_name_prefix_and_model(
    ctl: Control, q: str, expected: list[str]
) -> None:
    tenant = _tenant(ctl)
    ctl.import_devices(tenant, read_rows(SEARCHED))
    other = _tenant(ctl, "g")
    ctl.import_devices(other, read_rows("mac,model,name\n0015651a00ff,yealink-t46s,Reception\n"))
    seen, total = _walk(ctl, tenant, q=q)
    assert sorted(seen) == seen == sorted(expected) and total == len(expected)


def test_q_with_the_filter_and_a_device_matching_twice_counts_once(ctl: Control) -> None:
    tenant = _tenant(ctl)
    ctl.import_devices(tenant, read_rows(SEARCHED))
    # "001565" matches three MACs and, as a name prefix, the Polycom named "001565 spare"
    seen, total = _walk(ctl, tenant, q="001565", which="unassigned")
    assert seen == ["0004f2000005", "0015651a0002", "0015652b0003"] and total == 3
    seen, total = _walk(ctl, tenant, q="yealink", which="assigned")
    assert seen == ["0015651a0001"] and total == 1
    ctl.set_lines("0015652b0003", ["101"])  # the line count follows the lines
    assert _walk(ctl, tenant, q="yealink", which="assigned") == (
        ["0015651a0001", "0015652b0003"],
        2,
    )
    ctl.set_lines("0015651a0001", [])
    assert _walk(ctl, tenant, which="assigned") == (["0004f2000004", "0015652b0003"], 2)


def _sort_key(device: dict[str, Any], sort: str) -> tuple[Any, str]:
    value = device[sort]
    return (value.lower() if sort == "name" else value), device["mac"]


@pytest.mark.parametrize("sparse", [5000, 0])  # each part by its own index, or by the sort's
@pytest.mark.parametrize("order", ["asc", "desc"])
@pytest.mark.parametrize("sort", ["mac", "name", "model", "created_at"])
def test_every_sort_pages_through_every_match_once_in_order(
    ctl: Control, monkeypatch: pytest.MonkeyPatch, sort: str, order: str, sparse: int
) -> None:
    monkeypatch.setattr(devicelist, "SPARSE", sparse)
    tenant = _tenant(ctl)
    rows = "mac,model,name\n" + "".join(
        f"00156500{n:04x},{('yealink-t46s', 'fanvil-x4u', 'yealink-t54w')[n % 3]},"
        f"{('desk', 'Desk', 'lab', 'Lobby')[n % 4]} {n % 3}\n"
        for n in range(23)
    )
    ctl.import_devices(tenant, read_rows(rows))
    with ctl.db.transaction() as conn:  # created_at ties and order apart from the MAC's
        conn.execute("UPDATE devices SET created_at = '2026-01-0' || (10 - length(name))")
    for q in ("", "d", "00156500000", "yealink", "0015"):
        everything = ctl.list_devices(tenant, limit=1000, q=q)["items"]
        expected = sorted(everything, key=lambda d: _sort_key(d, sort), reverse=order == "desc")
        seen, total = _walk(ctl, tenant, limit=4, q=q, sort=sort, order=order)
        assert seen == [d["mac"] for d in expected] and total == len(everything)


def test_sorting_by_fetches_uses_the_refreshed_copies(tmp_path: Path) -> None:
    data = tmp_path / "data"
    ctl = build_control(data, EDGE)
    tenant = _tenant(ctl)
    ctl.import_devices(tenant, read_rows(SEARCHED))
    env = edgestate.open_env(data)  # as the edge's writer records fetches
    commit(env, {
        b"0015651a0001": Fetch(5, 3_000_000, bytes(16), b"a"),
        b"0015651a0002": Fetch(9, 1_000_000, bytes(16), b"b"),
        b"0004f2000004": Fetch(1, 2_000_000, bytes(16), b"c"),
    })  # fmt: skip
    env.close()
    by_count = {"sort": "provision_count", "order": "desc"}
    before = _walk(ctl, tenant, **by_count)[0]
    assert before == sorted(before, reverse=True)  # all 0 until the copies are refreshed
    assert ctl.fetch_mirror.refresh() == 3
    assert ctl.fetch_mirror.refresh() == 0  # nothing new
    assert _walk(ctl, tenant, **by_count)[0][:3] == ["0015651a0002", "0015651a0001", "0004f2000004"]
    fetched = _walk(ctl, tenant, sort="last_fetch_at", order="desc")[0]
    assert fetched[:3] == ["0015651a0001", "0004f2000004", "0015651a0002"]
    page = ctl.list_devices(tenant, limit=1, sort="last_fetch_at", order="desc")
    assert page["items"][0]["last_fetch_at"] is not None  # the view reads the edge state
    ctl.reset_provision_counters(["0015651a0002"])
    assert _walk(ctl, tenant, **by_count)[0][:2] == ["0015651a0001", "0004f2000004"]
    assert ctl.fetch_mirror.refresh(full=True) == 0  # the reset left the copy right
    ctl.close()


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"sort": "colour"}, "sort"),
        ({"order": "up"}, "order"),
        ({"which": "some"}, "filter"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": devicelist.encode_cursor("name", "asc", "x", "001565000001")}, "cursor"),
        ({"cursor": devicelist.encode_cursor("mac", "asc", 7, "001565000001")}, "cursor"),
        ({"cursor": devicelist.encode_cursor("mac", "asc", "x", "nonsense")}, "cursor"),
        ({"q": "x" * 65}, "q"),
        ({"limit": 0}, "limit"),
    ],
)
def test_bad_values_are_refused_naming_the_field(
    ctl: Control, query: dict[str, Any], field: str
) -> None:
    tenant = _tenant(ctl)
    with pytest.raises(ServiceError) as refused:
        ctl.list_devices(tenant, **query)
    assert refused.value.status == 422 and list(refused.value.errors) == [field]


def test_the_http_list_and_export_take_the_same_query(ctl: Control) -> None:
    tenant = _tenant(ctl)
    ctl.import_devices(tenant, read_rows(SEARCHED))
    token = create_token(ctl.db, "operator")
    with TestClient(create_app(ctl)) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        query = {"tenant": tenant, "q": "00:15:65:1a", "sort": "name", "order": "desc"}
        page = client.get("/api/v1/devices", params={**query, "limit": 1})
        assert page.status_code == 200, page.text
        body = page.json()
        assert set(body) == {"items", "total", "next_cursor"} and body["total"] == 2
        assert _macs(body) == ["0015651a0002"]  # "reception back" after "Reception"
        rest = client.get("/api/v1/devices", params={**query, "cursor": body["next_cursor"]})
        assert _macs(rest.json()) == ["0015651a0001"] and rest.json()["next_cursor"] is None
        exported = client.get(
            "/api/v1/devices/export", params={"tenant": tenant, "q": "00:15:65:1a"}
        )
        assert [row[:12] for row in exported.text.splitlines()[1:]] == [
            "0015651a0001",
            "0015651a0002",
        ]
        assigned = client.get(
            "/api/v1/devices/export", params={"tenant": tenant, "q": "0015", "filter": "assigned"}
        )
        assert [row[:12] for row in assigned.text.splitlines()[1:]] == ["0015651a0001"]
        for params, field in (
            ({"sort": "colour"}, "sort"),
            ({"order": "sideways"}, "order"),
            ({"cursor": "garbage"}, "cursor"),
            ({"colour": "red"}, "colour"),
            ({"after": "0015651a0001"}, "after"),  # the old cursor parameter is gone
            ({"q": "x" * 65}, "q"),
        ):
            refused = client.get("/api/v1/devices", params={"tenant": tenant, **params})
            assert refused.status_code == 422 and field in refused.json()["errors"], params
        assert (
            client.get(
                "/api/v1/devices/export", params={"tenant": tenant, "sort": "mac"}
            ).status_code
            == 422
        )


def test_an_older_database_gets_its_line_counts_and_totals(tmp_path: Path) -> None:
    ctl = build_control(tmp_path, EDGE)
    tenant = _tenant(ctl)
    ctl.import_devices(tenant, read_rows(SEARCHED))
    ctl.close()
    conn = sqlite3.connect(tmp_path / "provedge.sqlite3", isolation_level=None)
    made = conn.execute(
        "SELECT type, name FROM sqlite_master WHERE name LIKE 'devices_by_%'"
        " OR name LIKE 'devices_all_by_%' OR name LIKE 'device_lines_count_%'"
        " OR name LIKE 'device_counts_%'"
    ).fetchall()
    for kind, name in made:  # back to the schema before the list's columns and indexes
        conn.execute(f"DROP {kind.upper()} {name}")
    conn.execute("DROP TABLE device_counts")
    conn.execute("ALTER TABLE devices DROP COLUMN line_count")
    conn.close()
    ctl = build_control(tmp_path, EDGE)
    assert _walk(ctl, tenant, which="assigned") == (["0004f2000004", "0015651a0001"], 2)
    assert _walk(ctl, tenant, which="unassigned")[1] == 3
    assert ctl.list_devices(tenant)["total"] == 5
    ctl.close()


def test_the_control_plane_refreshes_the_copies_on_its_own(tmp_path: Path) -> None:
    data = tmp_path / "data"
    ctl = build_control(data, EDGE)
    tenant = _tenant(ctl)
    ctl.import_devices(tenant, read_rows(SEARCHED))
    ctl.close()
    env = edgestate.open_env(data)
    commit(env, {b"0015652b0003": Fetch(4, 1_000_000, bytes(16), b"a")})
    env.close()
    ctl = build_control(data, EDGE, run_jobs=True)  # as the server starts it
    try:
        first = poll(
            lambda: ctl.list_devices(tenant, limit=1, sort="provision_count", order="desc"),
            lambda page: _macs(page) == ["0015652b0003"],
            "the copy of a fetch count",
        )
        assert first["items"][0]["provision_count"] == 4
    finally:
        ctl.close()  # stops the refresher with the job runners


def test_a_reboot_request_selects_through_the_same_filter(ctl: Control) -> None:
    tenant = _tenant(ctl)
    ctl.import_devices(tenant, read_rows(SEARCHED))
    with ctl.db.read() as conn:
        picked = {which: reboots.select_macs(conn, tenant, None, which) for which in FILTERS}
    for which, macs in picked.items():
        assert macs == _walk(ctl, tenant, which=which)[0]
    assert picked["assigned"] == ["0004f2000004", "0015651a0001"]


def test_a_cursor_after_the_longest_name_is_taken(ctl: Control) -> None:
    tenant = _tenant(ctl)
    for n in (1, 2):
        body = DeviceIn(tenant=tenant, mac=f"00156500000{n}", model="yealink-t46s", name="€" * 128)
        ctl.create_device(body)
    token = create_token(ctl.db, "operator")
    with TestClient(create_app(ctl)) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        query = {"tenant": tenant, "sort": "name", "limit": 1}
        first = client.get("/api/v1/devices", params=query).json()
        rest = client.get("/api/v1/devices", params={**query, "cursor": first["next_cursor"]})
        assert rest.status_code == 200, rest.text
        assert _macs(first) + _macs(rest.json()) == ["001565000001", "001565000002"]


def test_import_sets_blf_keys_checks_them_and_exports_them(ctl: Control) -> None:
    tenant = ctl.create_tenant(TenantIn(name="keys", realm="k.example", sip_server="pbx.k"))
    for n in (1, 2, 3):
        ctl.create_account(AccountIn(tenant=tenant["id"], username=f"k{n}"))
        ctl.create_extension(ExtensionIn(tenant=tenant["id"], number=f"20{n}", accounts=[f"k{n}"]))
    good = "mac,model,line1,blf\n001565000b01,yealink-t46s,201,202:Bob;203\n"
    made = ctl.import_devices(tenant["id"], read_rows(good))
    assert made["created"] == 1
    keys = ctl.get_device("001565000b01")["keys"]
    assert [(k["extension"], k["label"]) for k in keys] == [("202", "Bob"), ("203", "")]
    assert ctl.import_devices(tenant["id"], read_rows(good))["unchanged"] == 1  # again: nothing
    bad = ("mac,model,line1,blf\n001565000b02,yealink-t46s,201,999\n"
           "001565000b03,yealink-w52p,201,202\n")  # fmt: skip
    with pytest.raises(ServiceError) as caught:
        ctl.import_devices(tenant["id"], read_rows(bad))
    assert set(caught.value.errors) == {"rows[1].blf", "rows[2].blf"}  # unknown; no key room
    exported = ctl.export_devices(tenant["id"])
    assert exported.splitlines()[1] == "001565000b01,yealink-t46s,,201,,,,,,202:Bob;203"
    cleared = "mac,model,blf\n001565000b01,yealink-t46s,\n"
    assert ctl.import_devices(tenant["id"], read_rows(cleared))["changed"] == 1
    assert ctl.get_device("001565000b01")["keys"] == []


def _bookkeeping(ctl: Control) -> tuple[list[Any], list[Any], list[Any]]:
    """The audit entries (secrets masked by the trail; without the times), the totals and
    each device's line count, as the triggers keep them."""
    return (
        [tuple(r) for r in ctl.db.query(
            "SELECT actor_role, tenant_id, object, action, before,"
            " json_remove(after, '$.ahead_since', '$.created_at') FROM audit"
            " WHERE object LIKE 'device/%' ORDER BY id"
        )],
        [tuple(r) for r in ctl.db.query("SELECT * FROM device_counts ORDER BY tenant_id")],
        [tuple(r) for r in ctl.db.query(
            "SELECT mac, line_count, (SELECT count(*) FROM device_lines l WHERE l.mac = d.mac)"
            " FROM devices d ORDER BY mac"
        )],
    )  # fmt: skip


def test_the_bulk_insert_keeps_the_trail_totals_and_line_counts_as_row_by_row(
    tmp_path: Path,
) -> None:
    """An import inserts its new devices with the row triggers standing aside and does
    their work set-based (control/fleet.py); the result is what the triggers write for
    the same rows inserted one at a time, and the triggers still run afterwards."""
    text = GOOD + "001565000004,yealink-t46s,Keys,101,blf\n"
    text = text.replace(",blf\n", ",\n").replace("line2\n", "line2,blf\n", 1)
    text = text.replace("Keys,101,\n", "Keys,101,,102:Bob\n")
    bulk_ctl, rows_ctl = (
        build_control(tmp_path / "bulk", EDGE),
        build_control(tmp_path / "rows", EDGE),
    )
    try:
        for ctl in (bulk_ctl, rows_ctl):
            _tenant(ctl)
        bulk_ctl.import_devices(1, read_rows(text))
        with rows_ctl.db.transaction() as conn:  # the same rows through every trigger
            for mac, model, name in (
                ("001565000001", "yealink-t46s", "Reception"),
                ("001565000002", "yealink-t46s", "Office"),
                ("001565000003", "fanvil-x4u", ""),
                ("001565000004", "yealink-t46s", "Keys"),
            ):
                conn.execute(
                    "INSERT INTO devices (mac, tenant_id, model, name, admin_password)"
                    " VALUES (?, 1, ?, ?, 'secret-password')",
                    (mac, model, name),
                )
        with rows_ctl.db.transaction() as conn:
            conn.executemany(
                "INSERT INTO device_lines (mac, position, extension_id) VALUES (?, ?, ?)",
                [("001565000001", 1, 1), ("001565000001", 2, 2), ("001565000002", 1, 1),
                 ("001565000004", 1, 1)],
            )  # fmt: skip
            conn.execute(
                "INSERT INTO device_keys (mac, position, kind, extension_id, label)"
                " VALUES ('001565000004', 1, 'blf', 2, 'Bob')"
            )
        assert _bookkeeping(bulk_ctl) == _bookkeeping(rows_ctl)
        assert _bookkeeping(bulk_ctl)[1] == [(1, 4, 3)]
        relined = text.replace("Reception,101,102", "Reception,,").replace(
            "fanvil-x4u,,", "fanvil-x4u,,101"
        )
        bulk_ctl.import_devices(1, read_rows(relined))  # changed devices: the triggers' path
        _, totals, counts = _bookkeeping(bulk_ctl)
        assert totals == [(1, 4, 3)]
        assert all(count == lines for _, count, lines in counts)
        assert [c for _, c, _ in counts] == [0, 1, 1, 1]
    finally:
        bulk_ctl.close()
        rows_ctl.close()
