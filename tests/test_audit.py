"""The audit trail, in-process: who, what, when, before and after, secrets masked, scoped."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from control.api.schemas import AccountIn, AccountPatch, DeviceIn, DevicePatch, TenantIn
from control.domain.errors import ServiceError
from control.service import Control
from control.storage.audit import AUDITED, NOT_AUDITED, Actor, acting
from control.wiring import build_control
from tests.conftest import unique_name


@pytest.fixture
def ctl(tmp_path: Path) -> Iterator[Control]:
    control = build_control(tmp_path, "http://127.0.0.1:9")
    yield control
    control.close()


def new_tenant(ctl: Control) -> int:
    made = ctl.create_tenant(
        TenantIn(name=unique_name("au"), realm="a.example.com", sip_server="pbx.a.example.com")
    )
    return int(made["id"])


def test_a_change_is_recorded_with_its_actor_and_the_password_masked(ctl: Control) -> None:
    tenant = new_tenant(ctl)
    with acting(Actor("operator", "night shift", "abc123abc123")):
        account = ctl.create_account(AccountIn(tenant=tenant, password="s3cret-Passw0rd-xyz"))
        ctl.update_account(
            account["id"], AccountPatch(owner="Alice", password="an0ther-Passw0rd-q")
        )
    page = ctl.list_audit(tenant, None, f"account/{account['id']}")
    update, create = page["items"][0], page["items"][1]
    assert create["action"] == "create" and update["action"] == "update"
    assert create["actor"] == {"role": "operator", "label": "night shift", "token": "abc123abc123"}
    assert create["after"]["password"] == "***"
    assert update["after"]["password"] == "*** (changed)" and update["after"]["owner"] == "Alice"
    assert {"owner", "password"} <= set(update["changed"])
    text = repr(page)
    assert "s3cret-Passw0rd-xyz" not in text and "an0ther-Passw0rd-q" not in text


def test_a_change_that_fails_leaves_no_entry(ctl: Control) -> None:
    tenant = new_tenant(ctl)
    account = ctl.create_account(AccountIn(tenant=tenant, username="taken1"))
    other = ctl.create_account(AccountIn(tenant=tenant, username="free1"))
    before = ctl.list_audit(tenant, None)["items"]
    with pytest.raises(ServiceError):
        ctl.update_account(other["id"], AccountPatch(username=account["username"]))
    assert ctl.list_audit(tenant, None)["items"] == before


def test_a_tenant_admin_sees_only_its_tenants_entries(ctl: Control) -> None:
    mine, theirs = new_tenant(ctl), new_tenant(ctl)
    ctl.create_account(AccountIn(tenant=theirs, owner="theirs"))
    ctl.create_account(AccountIn(tenant=mine, owner="mine"))
    seen = ctl.list_audit(None, mine)["items"]
    assert seen and all(entry["tenant"] == mine for entry in seen)
    with pytest.raises(ServiceError) as refused:
        ctl.list_audit(theirs, mine)
    assert refused.value.status == 404


def test_every_table_is_audited_or_says_why_not(ctl: Control) -> None:
    tables = {
        row["name"]
        for row in ctl.db.query("SELECT name FROM sqlite_master WHERE type = 'table'")
        if not row["name"].startswith(("sqlite_", "accounts_words", "accounts_grams"))
    }
    covered = {spec.table for spec in AUDITED} | set(NOT_AUDITED)
    assert tables - covered == set()


def test_a_device_is_recorded_with_its_secrets_masked_and_publishing_is_not(ctl: Control) -> None:
    tenant = new_tenant(ctl)
    made = ctl.create_device(DeviceIn(tenant=tenant, mac="001565a0d170", model="yealink-t46s"))
    ctl.update_device("001565a0d170", DevicePatch(name="Reception"))
    ctl.publish_pending()  # the publisher's own columns (rev, ahead_since...) are no change
    entries = ctl.list_audit(tenant, None, "device/001565a0d170")["items"]
    assert [entry["action"] for entry in entries] == ["update", "create"]
    update, create = entries
    assert update["changed"] == ["name"]
    row = ctl.db.query_one("SELECT * FROM devices WHERE mac = ?", ("001565a0d170",))
    assert row is not None
    for secret in ("admin_password", "fetch_password"):
        assert row[secret] and create["after"][secret] == "***"
        assert row[secret] not in repr(entries)
    assert made["admin_password"] == row["admin_password"]
