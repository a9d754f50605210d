"""The registrar and the firewall together against a real `provedge run`: a guessed password
gets its source banned (silence on SIP, 403 on HTTP) until an operator lifts it; 500 phones
behind one address are never banned, nor locked out by one phone with a wrong password;
and sipvicious, the scanner real attackers run, learns nothing: svwar finds no extension
and svcrack no password before their source is banned.

The phone tests send from loopback addresses of their own (127.0.0.0/8 is all loopback).
svwar and svcrack 0.3.3 accept ``-b`` but never pass it on to their socket, so they
always send from 127.0.0.1: they scan a server of their own (``scanned``), which bans
127.0.0.1 where no other test cares, and every test lifts that ban before it ends.
Thresholds are lowered through ``PUT /api/v1/firewall`` for one test and restored after.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from edge.sipparse import Message
from provedge.formats.firewall import DEFAULT_MAX_FAILURES
from tests.conftest import Provedge, start_provedge, stop_provedge, wait_job
from tests.sipclient import Phone, authorization, challenge_params
from tests.test_firewall import edge_status, source, until
from tests.test_registrar import PASSWORD, make_account, make_tenant, wait_registrations

SVWAR, SVCRACK = shutil.which("svwar"), shutil.which("svcrack")
needs_sipvicious = pytest.mark.skipif(
    SVWAR is None or SVCRACK is None, reason="sipvicious (svwar, svcrack) is not installed"
)
MAX_FAILURES, WINDOW_S, BAN_S = 5, 60, 600
SILENCE_S = 2.0  # how long a phone waits before it takes no answer for silence
SCANNER = "127.0.0.1"  # where svwar and svcrack send from (their -b is ignored)
SCAN_TIMEOUT_S = 60  # bound on one svwar or svcrack run
MALFORMED = b"REGISTER sip:x SIP/2.0\r\nthis is not a header line\r\n\r\n"
PHONES = 500
GUESSES = 100  # a bound on the guesses of one test, past any threshold in force


@pytest.fixture(scope="module")
def api(provedge: Provedge) -> Iterator[httpx.Client]:
    with provedge.api() as client:
        yield client


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Provedge]:
    server = start_provedge(tmp_path_factory.mktemp("scanned"))
    yield server
    stop_provedge(server)


@pytest.fixture
def scanned_api(scanned: Provedge) -> Iterator[httpx.Client]:
    with scanned.api() as client:
        yield client
        lift(client, scanned, SCANNER)


def ban_of(api: httpx.Client, address: str) -> dict[str, Any] | None:
    answer = api.get("/api/v1/bans")
    assert answer.status_code == 200, answer.text
    return next((ban for ban in answer.json() if ban["address"] == address), None)


def lift(api: httpx.Client, server: Provedge, address: str) -> None:
    """Lift any ban of ``address`` and wait (bounded) until the edge answers it again."""
    api.delete(f"/api/v1/bans/{address}")
    assert until(lambda: ban_of(api, address) is None)
    assert until(lambda: edge_status(server, address) != 403)


@contextmanager
def threshold(api: httpx.Client, server: Provedge) -> Iterator[None]:
    """The global policy lowered to MAX_FAILURES in WINDOW_S for one test, then restored.
    It yields once the edge-state writer, which decides the bans, judges by it: a fresh
    probe address that fails MAX_FAILURES times is banned (bounded retries: the writer
    reads new settings every 0.25 s). Each worker follows within its own refresh; until
    then its own count cuts a source off at the threshold before."""
    before = api.get("/api/v1/firewall").json()
    lowered = {"max_failures": MAX_FAILURES, "window_s": WINDOW_S, "ban_s": BAN_S}
    assert api.put("/api/v1/firewall", json=lowered).status_code == 200
    try:
        for _ in range(10):
            probe = source()
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                sock.bind((probe, 0))
                for _ in range(MAX_FAILURES):
                    sock.sendto(MALFORMED, ("127.0.0.1", server.sip_port))
            if until(lambda probe=probe: ban_of(api, probe) is not None, 2.0):
                break
        else:
            raise AssertionError("the edge never banned at the lowered threshold")
        yield
    finally:
        restored = {k: before[k] for k in ("max_failures", "window_s", "ban_s", "trusted")}
        assert api.put("/api/v1/firewall", json=restored).status_code == 200


def reply(phone: Phone, request: bytes) -> Message | None:
    """The answer to ``request`` (a late answer to an earlier one is passed over), or None
    when the edge stays silent for SILENCE_S."""
    phone.send(request)
    deadline = time.monotonic() + SILENCE_S
    while (left := deadline - time.monotonic()) > 0:
        phone.sock.settimeout(left)
        try:
            message = phone.receive()
        except TimeoutError:
            return None
        if message.cseq.number == phone.cseq:
            return message
    return None


def answered(phone: Phone, password: str) -> int | None:
    """The final status of a login (REGISTER, then the answer to its challenge), or None
    when the edge stays silent."""
    first = reply(phone, phone.register())
    if first is None or first.status != 401:
        return None if first is None else first.status
    uri = f"sip:{phone.domain}"
    auth = authorization(challenge_params(first), phone.user, password, uri, 1)
    final = reply(phone, phone.register(authorization=auth))
    return None if final is None else final.status


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_a_guessed_password_is_banned_then_lifted(provedge: Provedge, api: httpx.Client) -> None:
    tenant = make_tenant(api)
    account = make_account(api, tenant)
    host = source()
    phone = Phone(provedge.sip_port, account["username"], tenant["sip_server"], bind=host)
    try:
        with threshold(api, provedge):
            refused = 0
            for _ in range(GUESSES):
                status = answered(phone, "not-the-password")
                if status is None:
                    break
                assert status == 401
                refused += 1
            # Then silence: the phone's worker bans at once by its own count, under the
            # lowered threshold or, if it has not read it yet, the one before.
            assert MAX_FAILURES <= refused <= DEFAULT_MAX_FAILURES
            assert until(lambda: ban_of(api, host) is not None)
            ban = ban_of(api, host)
            assert ban is not None and ban["reason"] == "digest"
            assert ban["failures"] == MAX_FAILURES
            banned_at, ends = moment(ban["banned_at"]), moment(ban["until"])
            assert moment(ban["first_at"]) <= banned_at
            assert abs((ends - banned_at).total_seconds() - BAN_S) < 0.01
            assert answered(phone, PASSWORD) is None  # even the right password: silence
            assert until(lambda: edge_status(provedge, host) == 403)
            assert edge_status(provedge, source()) == 404  # another address is served
            assert api.delete(f"/api/v1/bans/{host}").status_code == 204
            assert until(lambda: answered(phone, PASSWORD) == 200)
            assert ban_of(api, host) is None
            assert until(lambda: edge_status(provedge, host) == 404)  # every worker follows
        listed = wait_registrations(api, {"tenant": tenant["id"]}, 1)
        assert [(i["account"], i["source"]) for i in listed] == [(account["username"], host)]
    finally:
        phone.close()


def test_500_phones_behind_one_address_are_never_banned(
    provedge: Provedge, api: httpx.Client
) -> None:
    tenant = make_tenant(api)
    batch = {"tenant": tenant["id"], "count": PHONES, "username_pattern": "nat{n:03}"}
    made = api.post("/api/v1/accounts/batch", json=batch)
    assert made.status_code == 201, made.text
    wait_job(api, made.json()["job"])
    accounts = made.json()["items"]
    assert len(accounts) == PHONES
    host = source()  # the office's NAT
    with threshold(api, provedge):
        wrong = Phone(provedge.sip_port, accounts[0]["username"], tenant["sip_server"], bind=host)
        try:
            for _ in range(MAX_FAILURES - 1):  # one phone with a stale password, retrying
                assert answered(wrong, "an-old-password") == 401
        finally:
            wrong.close()
        statuses = []
        for item in accounts:
            phone = Phone(provedge.sip_port, item["username"], tenant["sip_server"], bind=host)
            try:
                statuses.append(answered(phone, item["password"]))
            finally:
                phone.close()
        assert statuses == [200] * PHONES
        assert ban_of(api, host) is None
        listed = wait_registrations(api, {"tenant": tenant["id"], "limit": 1000}, PHONES)
        assert len(listed) == PHONES
        assert {i["account"] for i in listed} == {a["username"] for a in accounts}
        assert {i["source"] for i in listed} == {host}
        assert ban_of(api, host) is None


def sipvicious(tool: str | None, server: Provedge, *args: str) -> str:
    """One bounded run of svwar or svcrack against ``server``'s registrar; its output."""
    assert tool is not None  # the tests that get here skip without sipvicious
    command = [tool, "-p", str(server.sip_port), "--maximumtime", "2", *args, "127.0.0.1"]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=SCAN_TIMEOUT_S, check=False
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done.stdout + done.stderr


def words(path: Path, items: list[str]) -> Path:
    path.write_text("".join(f"{item}\n" for item in items))
    return path


@needs_sipvicious
def test_svwar_finds_no_extension_and_its_source_is_banned(
    scanned: Provedge, scanned_api: httpx.Client, tmp_path: Path
) -> None:
    api = scanned_api
    tenant = make_tenant(api)
    real = make_account(api, tenant)["username"]
    names = [real, *map(str, range(100, 121)), "alice", "bob", "admin"]
    with threshold(api, scanned):
        outputs = []
        for start in range(len(names)):  # a scanner resumes where it stopped
            dictionary = words(tmp_path / f"names-{start}.txt", names[start:])
            outputs.append(sipvicious(
                SVWAR, scanned, "--force", "--debug", "-m", "REGISTER", "-d", str(dictionary),
                "--domain", tenant["sip_server"],
            ))  # fmt: skip
            if ban_of(api, SCANNER) is not None:
                break
        for output in outputs:
            assert "exists" not in output and "found nothing" in output
        # svwar asked for the real account first and got the answer a made-up name got.
        answers = [line for line in outputs[0].splitlines() if line.startswith("b'SIP/2.0 ")]
        assert len(answers) >= 2 and f'"{real}"<sip:{real}@' in answers[1]
        assert {line.split("\\r\\n")[0] for line in answers} == {"b'SIP/2.0 401 Unauthorized"}
        assert until(lambda: ban_of(api, SCANNER) is not None)
        ban = ban_of(api, SCANNER)
        assert ban is not None and ban["reason"] == "unknown_user"
        assert ban["failures"] == MAX_FAILURES
        assert until(lambda: edge_status(scanned, SCANNER) == 403)
        silent = sipvicious(SVWAR, scanned, "--force", "-d", str(dictionary),
                            "--domain", tenant["sip_server"])  # fmt: skip
        assert "socket error: timed out" in silent  # not even the first answer


@needs_sipvicious
@pytest.mark.parametrize("where", ["absent", "far"])
def test_svcrack_is_banned_before_it_finds_the_password(
    scanned: Provedge, scanned_api: httpx.Client, tmp_path: Path, where: str
) -> None:
    api = scanned_api
    tenant = make_tenant(api)
    user = make_account(api, tenant)["username"]
    guesses = [f"guess-{n:02}" for n in range(10 if where == "absent" else 60)]
    if where == "far":
        guesses[50] = PASSWORD  # past this threshold tenfold, and past the default
    with threshold(api, scanned):
        output = sipvicious(
            SVCRACK, scanned, "-v", "-u", user, "-d", str(words(tmp_path / "words.txt", guesses)),
            "--domain", tenant["sip_server"],
        )  # fmt: skip
        assert "The password for" not in output and "found nothing" in output
        assert until(lambda: ban_of(api, SCANNER) is not None)
        ban = ban_of(api, SCANNER)
        assert ban is not None and ban["reason"] == "digest"
        assert ban["failures"] == MAX_FAILURES
        registered = api.get("/api/v1/registrations", params={"tenant": tenant["id"]})
        assert registered.status_code == 200 and registered.json()["items"] == []


@needs_sipvicious
def test_svcrack_finds_a_password_within_the_threshold(
    scanned: Provedge, scanned_api: httpx.Client, tmp_path: Path
) -> None:
    """The other tests' svcrack finds nothing because of the ban, not because it cannot
    talk to this registrar: with the password second in its list it finds it."""
    api = scanned_api
    tenant = make_tenant(api)
    user = make_account(api, tenant)["username"]
    with threshold(api, scanned):
        dictionary = words(tmp_path / "words.txt", ["guess-00", PASSWORD, "guess-02"])
        output = sipvicious(SVCRACK, scanned, "-v", "-u", user, "-d", str(dictionary),
                            "--domain", tenant["sip_server"])  # fmt: skip
        assert f"The password for {user} is {PASSWORD}" in output
        assert ban_of(api, SCANNER) is None
    listed = wait_registrations(api, {"tenant": tenant["id"]}, 1)
    assert [(i["account"], i["source"]) for i in listed] == [(user, SCANNER)]
