"""Devices by the thousand through the service: import (all or nothing, dry run, re-import
changes nothing, a job when large), export as CSV, and the assigned/unassigned filter."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from control.api.schemas import AccountIn, DeviceIn, ExtensionIn, TenantIn
from control.domain.devicecsv import read_rows
from control.domain.errors import ServiceError
from control.service import Control
from control.wiring import build_control
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
    assert exported.splitlines()[0] == "mac,model,name,line1,line2,line3,line4,line5,line6"
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
        after = None
        while True:
            page = ctl.list_devices(tenant, limit=2, after=after, which=which)
            seen += [d["mac"] for d in page["items"]]
            if page["next"] is None:
                break
            after = page["next"]
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
    assert out.read_text().splitlines()[1:] == ["001565000003,fanvil-x4u,,,,,,,"]
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
