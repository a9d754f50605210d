"""Bindings live in the edge state: every worker of `--workers 2` sees the others', and an
edge restart keeps them. A real `provedge run`, phones over TCP so that the kernel hands
each connection to one worker and the binding names that worker.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tests.conftest import Provedge, start_provedge, stop_provedge
from tests.sipclient import Phone
from tests.test_registrar import PASSWORD, make_account, make_tenant

MAX_PHONES = 40  # bounded: new connections until both workers hold one
SEEN_WAIT_S = 5.0  # bounded wait for a binding to reach the other worker


def registrations(server: Provedge, tenant: dict[str, Any]) -> dict[str, dict[str, Any]]:
    with server.api() as api:
        page = api.get("/api/v1/registrations", params={"tenant": tenant["id"], "limit": 500})
    assert page.status_code == 200, page.text
    return {item["account"]: item for item in page.json()["items"]}


def registered(server: Provedge, tenant: dict[str, Any], username: str) -> dict[str, Any]:
    """The account's registration once the writer has it (bounded wait)."""
    deadline = time.monotonic() + SEEN_WAIT_S
    while (found := registrations(server, tenant).get(username)) is None:
        assert time.monotonic() < deadline, f"{username} never listed"
        time.sleep(0.05)
    return found


def listed_by(phone: Phone, over: Phone) -> list[str]:
    """The contacts a REGISTER without Contact for ``phone``'s account lists, sent on
    ``over``'s connection (so answered by the worker that holds it)."""
    if phone.sock is not over.sock:
        phone.sock.close()
        phone.sock, phone.parser = over.sock, over.parser
    final = phone.login(PASSWORD, contact=None)
    assert final.status == 200, final.status
    return final.header_values("Contact")


def wait_listed(phone: Phone, over: Phone, contact: str) -> list[str]:
    deadline = time.monotonic() + SEEN_WAIT_S
    while True:
        listed = listed_by(phone, over)
        if any(contact in c for c in listed) or time.monotonic() > deadline:
            return listed
        time.sleep(0.1)


def test_every_worker_sees_the_bindings_and_a_restart_keeps_them(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = start_provedge(data, "--workers", "2")
    phones: list[Phone] = []
    try:
        with server.api() as api:
            tenant = make_tenant(api)
            accounts = [make_account(api, tenant, expires=900) for _ in range(MAX_PHONES)]
        by_worker: dict[int, tuple[Phone, dict[str, Any]]] = {}
        for account in accounts:
            phone = Phone(server.sip_port, account["username"], tenant["sip_server"], "tcp")
            phones.append(phone)
            assert phone.login(PASSWORD).status == 200
            worker = registered(server, tenant, account["username"])["worker"]
            by_worker.setdefault(worker, (phone, account))
            if len(by_worker) == 2:
                break
        assert len(by_worker) == 2, "every connection went to one worker"
        (phone_a, account_a), (phone_b, account_b) = by_worker.values()
        seen = registrations(server, tenant)
        contact_a = seen[account_a["username"]]["contact"]
        contact_b = seen[account_b["username"]]["contact"]
        assert (
            seen[account_a["username"]]["flow"].split(":")[0]
            != (seen[account_b["username"]]["flow"].split(":")[0])
        )
        # Each worker lists the binding the other one made.
        asker_a = Phone(server.sip_port, account_a["username"], tenant["sip_server"])
        asker_b = Phone(server.sip_port, account_b["username"], tenant["sip_server"])
        phones += [asker_a, asker_b]
        listed = wait_listed(asker_a, phone_b, contact_a)
        assert any(contact_a in c for c in listed), (contact_a, listed)
        assert any(contact_b in c for c in wait_listed(asker_b, phone_a, contact_b))
        before = registrations(server, tenant)
    finally:
        for phone in phones:
            phone.close()
        stop_provedge(server)

    restarted = start_provedge(data, "--workers", "2")
    try:
        after = registrations(restarted, tenant)
        assert set(after) == set(before)
        for name, item in before.items():
            kept = after[name]
            assert (kept["contact"], kept["registered_at"], kept["expires_at"]) == (
                item["contact"], item["registered_at"], item["expires_at"],
            )  # fmt: skip
        # The restarted registrar answers from them too (over UDP, a new socket).
        asker = Phone(restarted.sip_port, account_a["username"], tenant["sip_server"])
        try:
            final = asker.login(PASSWORD, contact=None)
            assert final.status == 200
            assert any(contact_a in c for c in final.header_values("Contact"))
        finally:
            asker.close()
    finally:
        stop_provedge(restarted)
