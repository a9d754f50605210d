"""Remote re-sync and reboot: the NOTIFYs one edge worker sends, and their answers.

The control plane's reboot job publishes targets wave by wave (provedge/formats/reboots.py);
every worker looks for new ones each ``interval``. A target goes to the phone's newest
binding (one whose User-Agent or Contact carries the device's MAC first), and the NOTIFY
leaves from where the phone registered, so it crosses the phone's NAT: over TCP on the
flow the REGISTER came on (only the worker holding it can), over UDP from the SIP socket
(the worker whose socket the phone's datagrams reach, so that the answer comes back to
it). Exactly one worker takes each target: it creates the target's claim file
(``O_EXCL``); the binding's own worker claims at once, another after ``GRACE_S`` (the
binding's worker is gone: an edge restart).

A 401/407 from the phone is answered once with the line's credentials: the control plane
published HA1s for the realms the phone may challenge with, never a password. Any worker
can answer it: the Call-ID, tag and CSeq follow from the target, so an answer that reaches
another worker than the sender (after a restart the kernel may route it there) is still
served. Over UDP the NOTIFY is retransmitted as RFC 3261 17.1.2 says (from 0.5 s,
doubling to 4 s) and times out after 32 s.

Outcomes (sent, accepted, rejected, timeout, not_registered) go to the edge-state writer
(edge/state/notifies.py); the job reads them, and decides ``rebooted`` itself from the
phone's next fetch and REGISTER.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import re
import secrets
import shutil
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import lmdb

from edge.sip import digest
from edge.sip.bindings import Bindings
from edge.sipbuild import build_request
from edge.state import notifies
from provedge.formats import edgestate, reboots

log = logging.getLogger("provedge.reboot")
DEFAULT_INTERVAL = 0.1
GRACE_S = 1.0  # a target its binding's worker has not claimed by then is anyone's
T1, T2, TIMER_F = 0.5, 4.0, 32.0  # RFC 3261 17.1.2.2 (non-INVITE client transaction)
BRANCH_PREFIX = "z9hG4bKpr"
CLAIMS_DIR = "claims"
CLAIMS_SWEEP_S = 30.0  # how often claim folders of jobs no longer published are removed
_RETRY = {errno.ENOENT, errno.ECONNREFUSED, errno.EAGAIN, errno.ENOBUFS}
_PARAM = re.compile(r'([A-Za-z-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s,]+)')
_HEX = re.compile(r"[^0-9a-f]")

Address = tuple[str, int]
Send = tuple[bytes, Address]


class FlowWriter(Protocol):
    def write(self, data: bytes) -> None: ...


@dataclass
class Transaction:
    target: dict[str, Any]
    binding: dict[str, Any]
    data: bytes
    to: Address
    deadline: float
    next_send: float
    interval: float
    retransmit: bool  # UDP only


class RebootSender:
    def __init__(
        self, published: lmdb.Environment, bindings: Bindings, data_dir: str | Path,
        interval: float = DEFAULT_INTERVAL, clock: Callable[[], float] = time.time,
    ) -> None:  # fmt: skip
        self.published = published
        self.bindings = bindings
        self.pid = os.getpid()
        self.interval = interval
        self._clock = clock
        self._claims = edgestate.env_path(data_dir) / CLAIMS_DIR
        self._socket_path = str(edgestate.socket_path(data_dir))
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.setblocking(False)
        self._db: Any = None
        self._after: dict[bytes, bytes] = {}  # job prefix -> the last target key looked at
        self._waiting: dict[bytes, tuple[dict[str, Any], float]] = {}  # key -> (target, seen)
        self._transactions: dict[str, Transaction] = {}  # branch -> transaction
        self._outcomes: list[notifies.Outcome] = []
        self._timer: asyncio.TimerHandle | None = None
        self._next_sweep = 0.0
        self.udp: Any = None  # the worker's SIP UDP transport
        self.flows: dict[str, FlowWriter] = {}  # flow id -> TCP connection (the flow table's)

    # -- the tick ---------------------------------------------------------------------------

    def start(self) -> None:
        self._timer = asyncio.get_running_loop().call_later(self.interval, self._tick)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._flush()
        self._sock.close()

    def _tick(self) -> None:
        try:
            self.tick()
        except Exception:  # a bad record must not stop the sender
            log.exception("reboot sender tick failed")
        self._timer = asyncio.get_running_loop().call_later(self.interval, self._tick)

    def tick(self) -> None:
        now = self._clock()
        self._look(now)
        for key, (target, seen) in list(self._waiting.items()):
            if self._take(target, seen, now):
                del self._waiting[key]
        self._retransmit(now)
        self._flush()
        if now >= self._next_sweep:
            self._next_sweep = now + CLAIMS_SWEEP_S
            self._sweep_claims()

    def _sweep_claims(self) -> None:
        """Remove the claims of jobs whose targets are withdrawn (any worker may: a
        folder gone twice is gone)."""
        if self._db is None or not self._claims.is_dir():
            return
        with self.published.begin(db=self._db) as txn:
            cursor = txn.cursor()
            for folder in self._claims.iterdir():
                if not folder.name.isdigit():
                    continue
                prefix = reboots.job_prefix(int(folder.name))
                if cursor.set_range(prefix) and bytes(cursor.key())[:8] == prefix:
                    continue  # still published
                shutil.rmtree(folder, ignore_errors=True)

    def _look(self, now: float) -> None:
        """New targets, in key order, since the last look."""
        if self._db is None:
            try:
                self._db = self.published.open_db(reboots.REBOOTS_DB, create=False)
            except lmdb.Error:
                return  # nothing published yet
        with self.published.begin(db=self._db, buffers=True) as txn:
            cursor = txn.cursor()
            found = cursor.first()
            while found:  # job by job: a job's later waves sort before a newer job's
                job = bytes(cursor.key())[:8]
                after = self._after.get(job)
                found = cursor.set_range(after) if after is not None else True
                while found and bytes(cursor.key())[:8] == job:
                    key = bytes(cursor.key())
                    if key != after:
                        self._after[job] = key
                        try:
                            self._waiting[key] = (reboots.decode(cursor.value()), now)
                        except ValueError:
                            pass
                    found = cursor.next()
                if found:
                    found = cursor.set_range(_next_prefix(job))

    # -- one target -------------------------------------------------------------------------

    def _take(self, target: dict[str, Any], seen: float, now: float) -> bool:
        """Send, or report, one target if it is this worker's; True when done with it."""
        binding = self._binding(target)
        mine = binding is not None and binding.get("worker") == self.pid
        if not mine and now - seen < GRACE_S:
            return False  # its binding's worker has the first claim
        if not self._claim(target):
            return True  # another worker took it
        if binding is None:
            self._report(target, reboots.NOT_REGISTERED, detail="no current binding")
            return True
        if binding["transport"] == "tcp":
            flow = self.flows.get(binding.get("flow") or "")
            if flow is None:
                self._report(target, reboots.NOT_REGISTERED, detail="its TCP flow is closed")
                return True
        self._send(target, binding, attempt=0, cseq=1, authorization=None, now=now)
        return True

    def _binding(self, target: dict[str, Any]) -> dict[str, Any] | None:
        """The binding to reach the device through: of its first line that has any, one
        naming the device's MAC first, the newest refresh first."""
        mac = str(target["mac"])
        for account in target["accounts"]:
            found = list(self.bindings.current(int(account)).values())
            if found:
                found.sort(key=lambda b: (_names(b, mac), b.get("refreshed_at", 0)), reverse=True)
                return found[0]
        return None

    def _claim(self, target: dict[str, Any]) -> bool:
        folder = self._claims / str(target["job"])
        try:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(folder / str(target["seq"]), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            return False
        os.close(fd)
        return True

    # -- sending ----------------------------------------------------------------------------

    def _send(
        self, target: dict[str, Any], binding: dict[str, Any], attempt: int, cseq: int,
        authorization: tuple[str, str] | None, now: float, to: Address | None = None,
    ) -> None:  # fmt: skip
        tcp = binding["transport"] == "tcp"
        branch = f"{BRANCH_PREFIX}-{target['job']}-{target['seq']}-{attempt}-{secrets.token_hex(4)}"
        data = notify(target, binding, branch, cseq, authorization)
        to = to or (str(binding["source"]), int(binding["port"]))
        if tcp:
            flow = self.flows.get(binding.get("flow") or "")
            if flow is None:
                self._report(target, reboots.NOT_REGISTERED, detail="its TCP flow is closed")
                return
            flow.write(data)
        elif self.udp is not None:
            self.udp.sendto(data, to)
        else:
            return  # SIP is off in this worker
        self._transactions[branch] = Transaction(
            target, binding, data, to, now + TIMER_F, now + T1, T1, not tcp
        )
        self._report(target, reboots.SENT, contact=str(binding["contact"]))

    def _retransmit(self, now: float) -> None:
        for branch, tx in list(self._transactions.items()):
            if now >= tx.deadline:
                del self._transactions[branch]
                self._report(
                    tx.target, reboots.TIMEOUT, detail="no answer in 32 s",
                    contact=str(tx.binding["contact"]),
                )  # fmt: skip
            elif tx.retransmit and now >= tx.next_send and self.udp is not None:
                self.udp.sendto(tx.data, tx.to)
                tx.interval = min(tx.interval * 2, T2)
                tx.next_send = now + tx.interval

    # -- answers ----------------------------------------------------------------------------

    def on_response(self, msg: Any, source: Address, transport: str) -> bool:
        """Handle a response to one of our NOTIFYs; False when it is not ours."""
        vias = msg.via
        branch = (vias[0].branch or "") if vias else ""
        if not branch.startswith(BRANCH_PREFIX):
            return False
        try:
            _, job, seq, attempt = branch.split("-")[:4]
            target_key = reboots.key(int(job), int(seq))
        except ValueError:
            return True  # ours in shape only: nothing to do
        status = int(msg.status or 0)
        tx = self._transactions.get(branch)
        if status < 200:
            if tx is not None:
                tx.retransmit = False  # a provisional answer stops retransmissions
            return True
        self._transactions.pop(branch, None)
        target = tx.target if tx is not None else self._target(target_key)
        if target is None:
            return True  # the job is over
        binding = tx.binding if tx is not None else self._binding(target)
        contact = None if binding is None else str(binding["contact"])
        if 200 <= status < 300:
            self._report(target, reboots.ACCEPTED, status, contact=contact)
        elif status in (401, 407) and attempt == "0":
            answer = _authorization(msg, status, target, binding)
            if binding is None or answer is None:
                detail = "no credentials for its challenge"
                self._report(target, reboots.REJECTED, status, detail, contact)
            else:
                cseq = (msg.cseq.number if msg.cseq else 1) + 1
                self._send(target, binding, 1, cseq, answer, self._clock(), to=source)
        else:
            self._report(target, reboots.REJECTED, status, msg.reason or "", contact)
        return True

    def _target(self, key: bytes) -> dict[str, Any] | None:
        if self._db is None:
            return None
        with self.published.begin(db=self._db) as txn:
            raw = txn.get(key)
        return None if raw is None else reboots.decode(raw)

    # -- outcomes ---------------------------------------------------------------------------

    def _report(
        self, target: dict[str, Any], state: str, status: int | None = None, detail: str = "",
        contact: str | None = None,
    ) -> None:  # fmt: skip
        value = {"state": state, "status": status, "detail": detail, "at": self._clock()}
        if contact is not None:
            value["contact"] = contact
        self._outcomes.append(
            (reboots.key(int(target["job"]), int(target["seq"])), reboots.encode(value))
        )

    def _flush(self) -> None:
        pending, self._outcomes = self._outcomes, []
        for datagram in notifies.encode(pending):
            try:
                self._sock.sendto(datagram, self._socket_path)
            except OSError as exc:
                if exc.errno in _RETRY:
                    self._outcomes = pending  # the next tick tries again (a resend is
                    return  # harmless: the writer keeps the stronger outcome)
                log.warning("reboot outcomes lost: %s", exc)


def _next_prefix(job: bytes) -> bytes:
    return (int.from_bytes(job, "big") + 1).to_bytes(8, "big")


def _names(binding: dict[str, Any], mac: str) -> bool:
    """Whether the binding's User-Agent or Contact carries ``mac`` (any notation)."""
    text = f"{binding.get('user_agent', '')} {binding.get('contact', '')}".lower()
    return mac in _HEX.sub("", text) or mac in text


def notify(
    target: dict[str, Any], binding: dict[str, Any], branch: str, cseq: int,
    authorization: tuple[str, str] | None,
) -> bytes:  # fmt: skip
    """The out-of-dialog NOTIFY to one binding; Call-ID and tag follow from the target, so
    an authenticated retry by another worker belongs to the same request."""
    local = str(binding["local"])
    transport = "TCP" if binding["transport"] == "tcp" else "UDP"
    aor = str(binding["aor"])
    domain = aor.split("@", 1)[-1]
    token = str(target["token"])
    headers = [
        ("Via", f"SIP/2.0/{transport} {local};branch={branch};rport"),
        ("Max-Forwards", "70"),
        ("From", f"<sip:provedge@{domain}>;tag={token[:12]}"),
        ("To", f"<{aor}>"),
        ("Call-ID", f"{token}-{target['seq']}@{domain}"),
        ("CSeq", f"{cseq} NOTIFY"),
        ("Contact", f"<sip:provedge@{local};transport={transport.lower()}>"),
        ("Event", str(target["event"])),
        ("Subscription-State", "terminated"),
    ]
    if authorization is not None:
        headers.append(authorization)
    return build_request("NOTIFY", str(binding["contact"]), headers=headers)


def _authorization(
    msg: Any, status: int, target: dict[str, Any], binding: dict[str, Any] | None
) -> tuple[str, str] | None:
    """The (Proxy-)Authorization answering the phone's challenge with the line's HA1,
    or None when no published credential fits its realm and algorithm."""
    if binding is None:
        return None
    header = "WWW-Authenticate" if status == 401 else "Proxy-Authenticate"
    for challenge in msg.header_values(header):
        scheme, _, rest = challenge.strip().partition(" ")
        if scheme.lower() != "digest":
            continue
        params = {k.lower(): v.strip('"') for k, v in _PARAM.findall(rest)}
        algorithm = params.get("algorithm", "MD5").upper()
        realm = params.get("realm", "")
        field = digest.ALGORITHMS.get(algorithm)  # also the key of the credential's HA1
        credential = next(
            (c for c in target["credentials"] if str(c["realm"]).lower() == realm.lower()),
            None,
        )
        if field is None or credential is None or "nonce" not in params:
            continue
        ha1 = str(credential[field])
        uri = str(binding["contact"])
        nonce = params["nonce"]
        parts = [
            f'username="{credential["username"]}"', f'realm="{realm}"', f'nonce="{nonce}"',
            f'uri="{uri}"', f"algorithm={algorithm}",
        ]  # fmt: skip
        if "auth" in [q.strip() for q in params.get("qop", "").split(",")]:
            cnonce = secrets.token_hex(8)
            response = digest.response_of(field, ha1, nonce, "NOTIFY", uri, "00000001", cnonce)
            parts += ["qop=auth", "nc=00000001", f'cnonce="{cnonce}"']
        else:
            response = digest.response_of(field, ha1, nonce, "NOTIFY", uri)
        parts.append(f'response="{response}"')
        if "opaque" in params:
            parts.append(f'opaque="{params["opaque"]}"')
        name = "Authorization" if status == 401 else "Proxy-Authorization"
        return name, "Digest " + ", ".join(parts)
    return None
