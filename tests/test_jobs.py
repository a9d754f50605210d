"""Jobs: a tenant change recompiles as a job, with progress; jobs resume and cancel."""

from __future__ import annotations

from pathlib import Path

import pytest

from control.api.schemas import TenantPatch
from control.jobs import store
from control.publish import pending
from control.wiring import build_control
from tests.test_service import EDGE, _blobs, _fleet, spy_compiles


def test_a_tenant_change_compiles_nothing_inline_and_queues_a_job(tmp_path: Path) -> None:
    ctl = build_control(tmp_path, EDGE)
    tenant, macs = _fleet(ctl)
    compiled = spy_compiles(ctl)
    job = ctl.update_tenant(tenant["id"], TenantPatch(sip_server="pbx2.t.example"))["job"]
    assert compiled == [] and job["state"] == "queued" and job["kind"] == "recompile"
    ctl.jobs.run_until_idle()
    assert sorted(compiled) == sorted(macs)
    done = ctl.get_job(job["id"])
    # three phones and the three account records, which are also published under the new
    # SIP server for the registrar
    assert (done["state"], done["done"], done["total"], done["errors"]) == ("done", 6, 6, [])
    assert done["started_at"] and done["finished_at"]
    ctl.close()
    device_blobs = [b for k, b in _blobs(tmp_path).items() if macs[2].encode() in k]
    assert device_blobs and all(b"pbx2.t.example" in b for b in device_blobs if b"sip" in b)


def test_a_second_change_while_queued_joins_the_same_job(tmp_path: Path) -> None:
    ctl = build_control(tmp_path, EDGE)
    tenant, _ = _fleet(ctl)
    first = ctl.update_tenant(tenant["id"], TenantPatch(sip_port=5070))["job"]
    second = ctl.update_tenant(tenant["id"], TenantPatch(sip_port=5080))["job"]
    assert first["id"] == second["id"]
    ctl.close()


def test_a_job_left_running_by_a_dead_process_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pending, "JOB_BATCH", 1)
    ctl = build_control(tmp_path, EDGE)
    tenant, _ = _fleet(ctl)
    job = ctl.update_tenant(tenant["id"], TenantPatch(sip_port=5090))["job"]
    ctl.publishing.step(tenant_id=tenant["id"])  # one device published, then the process dies
    with ctl.db.transaction() as conn:
        conn.execute("UPDATE jobs SET state = 'running', done = 1, total = 3, run_started = 0")
    ctl.close()

    restarted = build_control(tmp_path, EDGE)
    assert restarted.get_job(job["id"])["state"] == "running"
    restarted.jobs.run_until_idle()
    resumed = restarted.get_job(job["id"])
    assert (resumed["state"], resumed["done"], resumed["total"]) == ("done", 3, 3)
    assert restarted.publishing.pending_devices() == 0
    restarted.close()


def test_cancel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pending, "JOB_BATCH", 1)
    ctl = build_control(tmp_path, EDGE)
    tenant, _ = _fleet(ctl)
    queued = ctl.update_tenant(tenant["id"], TenantPatch(sip_port=5071))["job"]
    assert ctl.cancel_job(queued["id"])["state"] == "cancelled"  # a queued job: at once
    ctl.jobs.run_until_idle()
    assert ctl.publishing.pending_devices(tenant["id"]) == 3  # nothing ran
    running = ctl.update_tenant(tenant["id"], TenantPatch(sip_port=5072))["job"]
    with ctl.db.transaction() as conn:
        conn.execute("UPDATE jobs SET state = 'running' WHERE id = ?", (running["id"],))
    ctl.cancel_job(running["id"])
    ctl.jobs.run_until_idle()
    stopped = ctl.get_job(running["id"])
    assert (stopped["state"], stopped["done"]) == ("cancelled", 1)  # at the end of one step
    ctl.close()


def test_rate_and_eta_are_measured_over_the_current_run() -> None:
    row = {
        "id": 1, "kind": "recompile", "tenant_id": None, "state": "running", "done": 300,
        "total": 1000, "errors": "[]", "error_count": 0, "created_at": "", "started_at": "",
        "finished_at": None, "run_started": 100.0, "run_done": 100,
    }  # fmt: skip
    view = store.view(row, now=110.0)  # type: ignore[arg-type]
    assert (view["rate_per_s"], view["eta_s"]) == (20.0, 35.0)


def test_unknown_state_filter_is_refused(tmp_path: Path) -> None:
    ctl = build_control(tmp_path, EDGE)
    with pytest.raises(Exception, match="state"):
        ctl.list_jobs("sleeping")
    ctl.close()
