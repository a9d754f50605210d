"""Control-plane tokens over the API, in-process: expiry, revocation, last use, the
failed-authentication limit, and no token or password in the logs."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from control.api.app import create_app
from control.api.auth import create_token, token_hash
from control.api.throttle import FailureThrottle
from control.service import Control
from control.wiring import build_control


@pytest.fixture
def ctl(tmp_path: Path) -> Iterator[Control]:
    control = build_control(tmp_path, "http://127.0.0.1:9")
    yield control
    control.close()


def web(ctl: Control, **kw: object) -> TestClient:
    return TestClient(create_app(ctl, last_use_interval_s=0.0, **kw))  # type: ignore[arg-type]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_token_expires_is_revoked_and_records_its_last_use(ctl: Control) -> None:
    api = web(ctl)
    operator = bearer(create_token(ctl.db, "operator"))
    made = api.post("/api/v1/tokens", json={"role": "operator", "label": "short",
                                            "expires_in_days": 1}, headers=operator)  # fmt: skip
    assert made.status_code == 201, made.text
    token, token_id = made.json()["token"], made.json()["id"]
    assert token_hash(token) not in made.text  # only the hash is stored, never shown
    assert api.get("/api/v1/models", headers=bearer(token)).status_code == 200
    listed = {t["id"]: t for t in api.get("/api/v1/tokens", headers=operator).json()}
    assert listed[token_id]["last_used_at"] is not None and listed[token_id]["expired"] is False
    assert token not in str(listed)  # a listing never carries a token

    # Expired: answered as an unknown token, and listed as expired.
    with ctl.db.transaction() as conn:
        conn.execute(
            "UPDATE tokens SET expires_at = ? WHERE token_hash = ?",
            (time.time() - 1, token_hash(token)),
        )
    assert api.get("/api/v1/models", headers=bearer(token)).status_code == 401
    listed = {t["id"]: t for t in api.get("/api/v1/tokens", headers=operator).json()}
    assert listed[token_id]["expired"] is True

    # Revoked: gone from the list, refused from the next request on.
    second = api.post("/api/v1/tokens", json={"role": "operator"}, headers=operator).json()
    assert api.get("/api/v1/models", headers=bearer(second["token"])).status_code == 200
    assert api.delete(f"/api/v1/tokens/{second['id']}", headers=operator).status_code == 204
    assert api.get("/api/v1/models", headers=bearer(second["token"])).status_code == 401
    assert second["id"] not in {t["id"] for t in api.get("/api/v1/tokens", headers=operator).json()}


def test_failed_authentications_are_limited_per_address(ctl: Control) -> None:
    api = web(ctl, throttle=FailureThrottle(limit=3, window_s=60))
    good = bearer(create_token(ctl.db, "operator"))
    answers = [api.get("/api/v1/models", headers=bearer(f"wrong-{n}")).status_code
               for n in range(5)]  # fmt: skip
    assert answers[:3] == [401, 401, 401] and answers[3:] == [429, 429]
    limited = api.get("/api/v1/models", headers=good)
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0


def test_no_token_or_password_reaches_the_logs(
    ctl: Control, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    api = web(ctl)
    token = create_token(ctl.db, "operator")
    tenant = api.post("/api/v1/tenants", headers=bearer(token),
                      json={"name": "logs", "realm": "l.example", "sip_server": "pbx.l"})  # fmt: skip
    account = api.post("/api/v1/accounts", headers=bearer(token),
                       json={"tenant": tenant.json()["id"], "password": "Sekrit-Passw0rd"})  # fmt: skip
    assert account.status_code == 201
    api.get("/api/v1/models", headers=bearer("not-a-real-token-xyz"))
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert token not in logged and "Sekrit-Passw0rd" not in logged
    assert "not-a-real-token-xyz" not in logged
