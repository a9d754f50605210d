"""SIP device accounts by the thousand from CSV: every bad row named and nothing written, a
dry run, generated usernames and passwords, the fields reaching the registrar's record,
an export read back by a batch, the HTTP route (CSV in, ``Accept: text/csv`` out) and the
``provedge accounts import|export`` commands."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from starlette.testclient import TestClient

from control.api.app import create_app
from control.api.auth import create_token
from control.api.schemas import AccountIn
from control.domain.errors import ServiceError
from control.service import Control
from control.wiring import build_control
from provedge.formats import accounts as fmt
from tests.test_accounts import _records, _tenant
from tests.test_service import EDGE

GOOD = """username,password,owner,email,description,caller_id_name,caller_id_number,expires,outbound_flags,access_rules
alice,Secret-pass-0001,Alice A,alice@example.com,lab phone,Alice,2025550101,120,intl premium,deny 0.0.0.0/0.0.0.0; permit 216.27.242.66/255.255.255.255
bob,,Bob B,bob@example.org,front desk,,,,,
,,Carol C,,,,,,,
"""


@pytest.fixture
def ctl(tmp_path: Path) -> Iterator[Control]:
    control = build_control(tmp_path, EDGE)
    yield control
    control.close()


def _usernames(ctl: Control, tenant: int) -> list[str]:
    return [a["username"] for a in ctl.list_accounts(tenant, limit=1000)["items"]]


def test_a_csv_batch_with_bad_rows_names_each_and_writes_nothing(ctl: Control) -> None:
    tenant = _tenant(ctl)
    ctl.import_accounts(tenant, "username\ntaken\n")
    bad = (
        "username,email,expires,access_rules,auth_method\n"
        "ok1,,,,\n"
        "ok1,,,,\n"  # twice in the file
        "taken,,,,\n"  # already in the tenant
        "ok2,not-an-email,,,\n"
        "ok3,,5000,,\n"  # over 3600
        "ok4,,,permit 10.0.0.0/255.0.255.0,\n"  # a non-contiguous netmask
        "bad name,,,,\n"
        "ok5,,,,ip\n"  # ip auth without an ip
    )
    with pytest.raises(ServiceError) as refused:
        ctl.import_accounts(tenant, bad)
    assert refused.value.status == 422
    errors = refused.value.errors
    assert set(errors) == {
        "rows[2].username", "rows[3].username", "rows[4].email", "rows[5].expires",
        "rows[6].access_rules[0].network", "rows[7].username", "rows[8].ip",
    }  # fmt: skip
    assert errors["rows[2].username"] == "ok1 is also in row 1"
    assert errors["rows[3].username"] == "taken exists in the tenant"
    assert _usernames(ctl, tenant) == ["taken"]  # nothing written


def test_a_bad_header_is_refused_by_column(ctl: Control) -> None:
    tenant = _tenant(ctl)
    with pytest.raises(ServiceError) as refused:
        ctl.import_accounts(tenant, "username,colour,owner,owner\nx,red,a,b\n")
    assert refused.value.status == 422
    assert {"columns.colour", "columns.owner"} <= set(refused.value.errors)


def test_a_dry_run_reports_and_writes_nothing(ctl: Control) -> None:
    tenant = _tenant(ctl)
    report = ctl.import_accounts(tenant, GOOD, dry_run=True)
    assert report["dry_run"] is True and report["count"] == 3
    assert [r["username"] for r in report["items"]] == ["alice", "bob", None]
    assert all(r["password"] is None for r in report["items"])
    assert _usernames(ctl, tenant) == [] and _records(ctl) == {}


def test_rows_reach_the_registrar_record_and_gaps_are_generated(ctl: Control) -> None:
    tenant = _tenant(ctl)
    made = ctl.import_accounts(tenant, GOOD)
    assert made["dry_run"] is False and made["count"] == 3 and made["job"] is None
    by_name = {r["username"]: r for r in made["items"]}
    assert by_name["alice"]["password"] == "Secret-pass-0001"
    assert len(by_name["bob"]["password"]) == 20  # generated
    generated = next(name for name in by_name if name not in ("alice", "bob"))
    assert generated.startswith("u") and len(generated) == 10
    records = {r["username"]: r for r in _records(ctl).values()}
    alice = records["alice"]
    assert alice["ha1_md5"] == fmt.ha1("alice", "t.example", "Secret-pass-0001", "md5")
    assert alice["expires_max"] == 120 and alice["outbound_flags"] == ["intl", "premium"]
    assert alice["access_rules"] == [
        {"action": "deny", "network": "0.0.0.0/0"},
        {"action": "permit", "network": "216.27.242.66/32"},
    ]
    assert alice["caller_id_number"] == "2025550101"
    view = ctl.get_account(by_name["alice"]["id"])
    assert view["owner"] == "Alice A" and view["description"] == "lab phone"
    assert records["bob"]["expires_max"] == 360  # the default


def test_an_export_is_read_back_by_a_batch(ctl: Control) -> None:
    first, second = _tenant(ctl), _tenant(ctl, "u")
    ctl.import_accounts(first, GOOD)
    text = ctl.export_accounts(first, q="owner:alice* OR owner:bob*")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["username"] for r in rows] == ["alice", "bob"]
    assert "password" not in rows[0] and "Secret-pass-0001" not in text  # never exported
    ctl.import_accounts(second, text)
    fields = ("owner", "email", "expires", "outbound_flags", "access_rules", "description")

    def view(tenant: int) -> list[tuple[object, ...]]:
        items = ctl.list_accounts(tenant, q="owner:alice* OR owner:bob*")["items"]
        return [tuple(a[f] for f in fields) for a in items]

    assert view(second) == view(first)
    with pytest.raises(ServiceError) as again:  # the same usernames: refused, not doubled
        ctl.import_accounts(second, text)
    assert set(again.value.errors) == {"rows[1].username", "rows[2].username"}


def test_the_http_batch_takes_csv_and_answers_csv(ctl: Control) -> None:
    tenant = _tenant(ctl)
    token = create_token(ctl.db, "operator")
    with TestClient(create_app(ctl)) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        csv_body = {"content": GOOD.encode(), "headers": {"Content-Type": "text/csv"}}
        dry = client.post("/api/v1/accounts/batch", params={"tenant": tenant, "dry_run": "true"},
                          **csv_body)  # fmt: skip
        assert dry.status_code == 200 and dry.json()["count"] == 3
        made = client.post(
            "/api/v1/accounts/batch",
            params={"tenant": tenant},
            content=GOOD.encode(),
            headers={"Content-Type": "text/csv", "Accept": "text/csv"},
        )
        assert made.status_code == 201 and made.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(made.text)))
        assert [r["username"] for r in rows][:2] == ["alice", "bob"]
        assert rows[0]["password"] == "Secret-pass-0001" and rows[0]["realm"] == "t.example"
        no_tenant = client.post("/api/v1/accounts/batch", **csv_body)
        assert no_tenant.status_code == 422 and "tenant" in no_tenant.json()["errors"]
        pattern = {"tenant": tenant, "count": 2, "username_pattern": "p{n}"}
        doubled = client.post("/api/v1/accounts/batch", params={"tenant": tenant}, json=pattern)
        assert doubled.status_code == 422 and "tenant" in doubled.json()["errors"]
        exported = client.get("/api/v1/accounts/export",
                              params={"tenant": tenant, "q": "email:*example.com"})  # fmt: skip
        assert exported.status_code == 200
        assert [r["username"] for r in csv.DictReader(io.StringIO(exported.text))] == ["alice"]
        broken = client.get("/api/v1/accounts/export", params={"tenant": tenant, "q": "(a"})
        assert broken.status_code == 400 and "q" in broken.json()["errors"]
        unknown = client.get("/api/v1/accounts/export", params={"tenant": tenant, "x": "1"})
        assert unknown.status_code == 422 and "x" in unknown.json()["errors"]


def test_cli_import_then_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from provedge.cli import main

    data = tmp_path / "data"
    ctl = build_control(data, EDGE)
    _tenant(ctl)
    ctl.close()
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    good.write_text(GOOD)
    bad.write_text(GOOD + "alice,,,,,,,,,\n")
    base = ["--data", str(data), "--tenant", "t"]
    assert main(["accounts", "import", str(bad), *base]) == 1
    assert "rows[4].username: alice is also in row 1" in capsys.readouterr().err
    assert main(["accounts", "import", str(good), *base, "--dry-run"]) == 0
    assert "3 accounts would be created" in capsys.readouterr().err
    made = tmp_path / "made.csv"
    assert main(["accounts", "import", str(good), *base, "--no-watch", "-o", str(made)]) == 0
    assert "job 1 queued" in capsys.readouterr().err
    passwords = {
        r["username"]: r["password"] for r in csv.DictReader(io.StringIO(made.read_text()))
    }
    assert passwords["alice"] == "Secret-pass-0001" and len(passwords) == 3
    ctl = build_control(data, EDGE)
    ctl.jobs.run_until_idle()  # what the running control plane's job runner does
    assert {r["username"] for r in _records(ctl).values()} == set(passwords)
    ctl.close()
    out = tmp_path / "out.csv"
    assert main(["accounts", "export", *base, "--query", "owner:bob*", "-o", str(out)]) == 0
    assert [r["username"] for r in csv.DictReader(io.StringIO(out.read_text()))] == ["bob"]
    assert main(["accounts", "export", *base, "--query", "(unclosed"]) == 2
    assert main(["accounts", "import", str(tmp_path / "none.csv"), *base]) == 2
    assert main(["accounts", "import", str(good), *base[:2], "--tenant", "nope"]) == 2


def test_a_batch_is_searchable_and_audited_row_by_row(ctl: Control) -> None:
    """The bulk insert (control/storage/bulk.py) fills the search index and the audit
    trail in one statement each; both must hold exactly what the triggers would, and
    the triggers must be back for the next single create."""
    tenant = _tenant(ctl)
    ctl.import_accounts(tenant, GOOD)
    ctl.create_account(AccountIn(tenant=tenant, username="dave", owner="Alice D"))
    assert [a["username"] for a in ctl.list_accounts(tenant, q="owner:alice*")["items"]] == [
        "alice", "dave",
    ]  # fmt: skip
    assert ctl.list_accounts(tenant, q='description:"front desk"')["total"] == 1
    with ctl.db.read() as conn:
        entries = conn.execute(
            "SELECT object, action, after FROM audit WHERE object LIKE 'account/%' ORDER BY id"
        ).fetchall()
    assert [e["action"] for e in entries] == ["create"] * 4
    after = [orjson.loads(e["after"]) for e in entries]
    assert [a["username"] for a in after][:2] == ["alice", "bob"]
    assert {a["password"] for a in after} == {"***"}  # masked, as the trigger masks it
    assert entries[0]["object"] == f"account/{after[0]['id']}"
