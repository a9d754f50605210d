"""The audit trail, in-process: who, what, when, before and after, secrets masked, scoped."""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from control.api.schemas import AccountIn, AccountPatch, DeviceIn, DevicePatch, TenantIn
from control.domain.errors import ServiceError
from control.jobs import store as jobs_store
from control.jobs.kinds import StepResult
from control.jobs.runner import JobRunner
from control.service import Control
from control.storage.audit import AUDITED, NOT_AUDITED, Actor, acting
from control.wiring import build_control
from tests.conftest import unique_mac, unique_name


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


def test_a_cli_change_is_recorded_as_the_clis(tmp_path: Path) -> None:
    from provedge.cli import main

    data = tmp_path / "data"
    build_control(data, "http://127.0.0.1:9").close()
    assert main(["bans", "add", "--data", str(data), "192.0.2.7"]) == 0
    ctl = build_control(data, "http://127.0.0.1:9")
    try:
        (entry,) = ctl.list_audit(None, None, "ban/192.0.2.7")["items"]
    finally:
        ctl.close()
    assert entry["action"] == "create"
    assert entry["actor"] == {"role": "cli", "label": getpass.getuser(), "token": ""}


class _Rename:
    """A job kind whose one step renames a device through the service, as a job would."""

    def __init__(self, ctl: Control, mac: str) -> None:
        self.ctl, self.mac, self.left = ctl, mac, 1

    def remaining(self, tenant_id: int | None, params: dict[str, Any]) -> int:
        return self.left

    def step(self, tenant_id: int | None, params: dict[str, Any]) -> StepResult:
        if not self.left:
            return StepResult(0, [])
        self.ctl.update_device(self.mac, DevicePatch(name="renamed by a job"))
        self.left = 0
        return StepResult(1, [])

    def cancelled(self, tenant_id: int | None, params: dict[str, Any]) -> None:
        return None


def test_a_jobs_change_is_recorded_as_the_jobs(ctl: Control) -> None:
    tenant = new_tenant(ctl)
    mac = unique_mac()
    ctl.create_device(DeviceIn(tenant=tenant, mac=mac, model="yealink-t46s"))
    with ctl.db.transaction() as conn:
        job_id = jobs_store.enqueue(conn, "rename", tenant)
    JobRunner(ctl.db, {"rename": _Rename(ctl, mac)}).run_until_idle()
    assert ctl.get_job(job_id)["state"] == "done"
    update = ctl.list_audit(tenant, None, f"device/{mac}")["items"][0]
    assert update["action"] == "update" and update["after"]["name"] == "renamed by a job"
    assert update["actor"] == {"role": "job", "label": f"rename #{job_id}", "token": ""}
