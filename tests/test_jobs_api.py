"""Jobs through the API and the CLI against a real control plane."""

from __future__ import annotations

import secrets
import subprocess
import sys
from typing import Any

import httpx

from tests.conftest import Provedge, wait_job


def _tenant_with_phones(api: httpx.Client, phones: int) -> dict[str, Any]:
    name = "jobs-" + secrets.token_hex(4)
    tenant = api.post(
        "/api/v1/tenants",
        json={"name": name, "realm": f"{name}.example", "sip_server": "pbx.example"},
    ).json()
    for n in range(phones):
        mac = "0015650" + secrets.token_hex(3)[:5]
        assert (
            api.post(
                "/api/v1/devices",
                json={"tenant": tenant["id"], "mac": mac, "model": "yealink-t46s"},
            ).status_code
            == 201
        )
    return tenant  # type: ignore[no-any-return]


def test_a_tenant_change_answers_with_its_job(provedge: Provedge) -> None:
    with provedge.api() as api:
        tenant = _tenant_with_phones(api, 3)
        changed = api.patch(f"/api/v1/tenants/{tenant['id']}", json={"ntp_server": "ntp.example"})
        assert changed.status_code == 200
        job = changed.json()["job"]
        assert {"id", "kind", "state", "done", "total", "errors", "rate_per_s", "eta_s",
                "started_at", "finished_at"} <= set(job)  # fmt: skip
        wait_job(api, job)
        done = api.get(f"/api/v1/jobs/{job['id']}").json()
        assert (done["state"], done["done"], done["total"]) == ("done", 3, 3)
        assert job["id"] in [
            j["id"] for j in api.get("/api/v1/jobs", params={"state": "done"}).json()
        ]
        # cancelling a finished job changes nothing
        assert api.post(f"/api/v1/jobs/{job['id']}/cancel").json()["state"] == "done"


def test_job_requests_are_checked(provedge: Provedge) -> None:
    with provedge.api() as api:
        assert api.get("/api/v1/jobs", params={"state": "asleep"}).status_code == 422
        assert api.get("/api/v1/jobs", params={"colour": "red"}).json()["errors"] == {
            "colour": "unknown query parameter"
        }
        for ref in ("999999999", "1x", "%C2%B2", "9" * 30):
            assert api.get(f"/api/v1/jobs/{ref}").status_code == 404


def test_the_cli_queues_a_recompile_and_watches_it(provedge: Provedge) -> None:
    with provedge.api() as api:
        tenant = _tenant_with_phones(api, 2)
    out = subprocess.run(
        [sys.executable, "-m", "provedge.cli", "recompile", "--data", str(provedge.data),
         "--tenant", tenant["name"], "--timeout", "60"],
        capture_output=True, text=True, timeout=90, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "done, 2/2, 0 errors" in out.stdout
    assert "2/2" in out.stderr  # the tqdm bar
    job_id = out.stdout.split()[1]
    watched = subprocess.run(
        [sys.executable, "-m", "provedge.cli", "jobs", "watch", job_id, "--data", str(provedge.data)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert watched.returncode == 0 and "done" in watched.stdout
