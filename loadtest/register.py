"""The REGISTER driver: authenticated registrations over UDP from one uvloop process.

For the registrar's throughput (docs/performance.md, "Registrar throughput"). Every
account of the phone list (``provedge loadtest seed``: account, password, SIP server) is
one phone with its own Call-ID, CSeq and Contact; a phone has at most one REGISTER in
flight (RFC 3261 10.2), and at most ``--window`` phones have one at once, spread over
``--sockets`` UDP sockets. Two modes:

- ``preauth``: each account is challenged once first (the setup, timed apart), then
  registers with credentials for that nonce, the nonce count one higher each time (RFC
  7616 3.4.5), the way a phone refreshes: one round trip, REGISTER -> 200. A 401 with
  ``stale=true`` (the nonce outlived ``--digest-nonce-s`` on the edge) renews the nonce
  and is counted as ``stale``, not as a failure.
- ``challenge``: each registration is the full exchange of a phone that holds no nonce:
  REGISTER -> 401 -> REGISTER with credentials -> 200.

Counted: registrations (a 200 to credentials) and the REGISTER requests they took; any
other status, and a transaction with no answer within ``--request-timeout`` (no
retransmission: on loopback a lost datagram is a failure to report, not to hide), as a
failure of its kind. Latency (first REGISTER sent to the 200) goes into an HDR
histogram. Bounded: ``--count`` registrations, ``--window`` in flight, a deadline
(``--timeout``) after which what is left is counted as ``deadline``. Loopback only.

The digest answer is tests/sipclient.py's (RFC 7616, written apart from the edge's own
code, edge/sip/digest.py, so that the registrar is checked against an independent
client; loadtest/run.py already borrows the tests' server helpers the same way). Each
account's HA1 is computed once.

It prints the report as JSON and writes it to ``--out`` when given; exit status 1 when
any registration failed or fewer than ``--count`` were done.

    .venv/bin/python -m loadtest.register --phones-csv phones.csv --port 5060 \\
        --mode preauth --count 200000 --out register-preauth.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import secrets
import socket
import sys
import time
from collections import Counter, deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hdrh.histogram import HdrHistogram

from loadtest import loop, phones
from tests.sipclient import authorization, ha1, parse_challenge

MAX_US = 60_000_000  # the histogram's range: 1 µs to 60 s, 3 significant digits
PERCENTILES = (50, 90, 99, 99.9)
MODES = ("preauth", "challenge")
BUFFER = 4 << 20  # socket buffers: a window's answers never overflow ours
_CHALLENGE = re.compile(rb"\r\nWWW-Authenticate: ([^\r]*)")
CHALLENGE, CREDENTIALS = 0, 1  # what a phone's transaction in flight expects: 401 or 200


class Phone:
    """One account as a phone: its dialog-less REGISTER state and its request text."""

    __slots__ = ("began", "call_id", "challenge", "cnonce", "cseq", "expect", "head", "nc",
                 "password", "secret", "sent_at", "sock", "tail", "uri", "user")  # fmt: skip

    def __init__(self, row: dict[str, str], sock: int, local: tuple[str, int], run: str,
                 expires: int) -> None:  # fmt: skip
        user, domain = row["account"], row["sip_server"]
        self.user, self.password, self.uri = user, row["password"], f"sip:{domain}"
        self.call_id = f"{run}-{user}"
        self.cseq = self.nc = 0
        self.challenge: dict[str, str] = {}
        self.secret = ""  # HA1 for the challenge's realm
        self.cnonce = secrets.token_hex(4)
        self.sock = sock
        self.expect = CHALLENGE
        self.sent_at = self.began = 0.0
        host, port = local
        # The Contact leaves out the port, which is the driver's and changes from run to
        # run: so a run refreshes the binding of the one before instead of adding one.
        self.head = (f"REGISTER sip:{domain} SIP/2.0\r\n"
                     f"Via: SIP/2.0/UDP {host}:{port};rport;branch=z9hG4bK{run}.{user}.")  # fmt: skip
        self.tail = (
            f"\r\nMax-Forwards: 70\r\nFrom: <sip:{user}@{domain}>;tag={run}\r\n"
            f"To: <sip:{user}@{domain}>\r\nCall-ID: {self.call_id}\r\n"
            f"Contact: <sip:{user}@{host};transport=udp>\r\nExpires: {expires}\r\n"
            f"User-Agent: {row['user_agent']}\r\n"
        )

    def request(self, credentials: bool) -> bytes:
        self.cseq += 1
        auth = ""
        if credentials:
            self.nc += 1
            value = authorization(self.challenge, self.user, self.password, self.uri,
                                  self.nc, cnonce=self.cnonce, secret=self.secret)  # fmt: skip
            auth = f"Authorization: {value}\r\n"
        return (f"{self.head}{self.cseq}{self.tail}CSeq: {self.cseq} REGISTER\r\n{auth}"
                "Content-Length: 0\r\n\r\n").encode()  # fmt: skip

    def take_challenge(self, response: bytes, algorithm: str) -> bool:
        """Keep the nonce of the 401's challenge for ``algorithm``; False when none."""
        for value in _CHALLENGE.findall(response):
            params = parse_challenge(value.decode())
            if params.get("algorithm", "MD5").upper() == algorithm and "nonce" in params:
                if params.get("realm") != self.challenge.get("realm"):
                    self.secret = ha1(self.user, params["realm"], self.password, algorithm)
                self.challenge, self.nc = params, 0
                return True
        return False


class Driver:
    def __init__(self, rows: list[dict[str, str]], mode: str, count: int, window: int,
                 request_timeout: float, expires: int = 3600) -> None:  # fmt: skip
        if mode not in MODES:
            raise ValueError(f"mode is one of {', '.join(MODES)}")
        self.rows, self.mode, self.count, self.window = rows, mode, count, window
        self.request_timeout, self.expires = request_timeout, expires
        self.algorithm = "MD5"
        self.run_id = secrets.token_hex(4)
        self.phones: list[Phone] = []
        self.sockets: list[asyncio.DatagramTransport] = []
        self.inflight: dict[bytes, Phone] = {}
        self.idle: deque[Phone] = deque()
        self.latency = HdrHistogram(1, MAX_US, 3)
        self.statuses: Counter[int] = Counter()
        self.failures: Counter[str] = Counter()
        self.started = 0  # registrations begun
        self.registered = 0  # 200s to credentials
        self.requests = 0  # REGISTERs sent
        self.stale = 0
        self.stray = 0  # answers to nothing in flight (late, or duplicated)
        self._quota = 0  # registrations this phase begins at most
        self._setup = False
        self._done: asyncio.Future[None] | None = None

    # -- the run ----------------------------------------------------------------------------

    async def run(self, host: str, port: int, sockets: int, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        loop = asyncio.get_running_loop()
        for index in range(sockets):
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            for option in (socket.SO_RCVBUF, socket.SO_SNDBUF):
                sock.setsockopt(socket.SOL_SOCKET, option, BUFFER)
            sock.bind(("127.0.0.1", 0))
            sock.connect((host, port))
            transport, _ = await loop.create_datagram_endpoint(lambda: _Receiver(self), sock=sock)
            self.sockets.append(transport)
        locals_ = [t.get_extra_info("sockname")[:2] for t in self.sockets]
        self.phones = [
            Phone(row, i % sockets, locals_[i % sockets], self.run_id, self.expires)
            for i, row in enumerate(self.rows)
        ]
        sweeper = loop.create_task(self._sweep())
        report: dict[str, Any] = {}
        try:
            if self.mode == "preauth":
                began = time.perf_counter()
                self._setup = True
                await self._phase(len(self.phones), deadline, self.phones)
                self._setup = False
                report["setup"] = {"challenges": sum(1 for p in self.phones if p.challenge),
                                   "duration_s": round(time.perf_counter() - began, 3)}  # fmt: skip
                self._reset()
            ready = [p for p in self.phones if p.challenge or self.mode == "challenge"]
            began = time.perf_counter()
            await self._phase(self.count, deadline, ready)
            seconds = time.perf_counter() - began
        finally:
            sweeper.cancel()
            for transport in self.sockets:
                transport.close()
        return {**self.report(seconds, sockets), **report}

    def _reset(self) -> None:
        self.latency.reset()
        self.statuses.clear()
        self.started = self.registered = self.requests = self.stale = self.stray = 0
        self.failures = Counter({k: v for k, v in self.failures.items() if k.startswith("setup")})

    async def _phase(self, quota: int, deadline: float, ready: list[Phone]) -> None:
        self._done = asyncio.get_running_loop().create_future()
        self._quota = quota
        self.idle = deque(ready)
        self._pump()
        try:
            await asyncio.wait_for(self._done, max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            prefix = "setup " if self._setup else ""
            self.failures[f"{prefix}deadline"] += len(self.inflight)
            self.inflight.clear()

    def _pump(self) -> None:
        inflight, idle = self.inflight, self.idle
        while len(inflight) < self.window and idle and self.started < self._quota:
            phone = idle.popleft()
            self.started += 1
            phone.began = time.perf_counter()
            credentials = not self._setup and self.mode == "preauth"
            self._send(phone, CREDENTIALS if credentials else CHALLENGE)
        done = self._done
        finished = not inflight and (self.started >= self._quota or not idle)
        if finished and done is not None and not done.done():
            done.set_result(None)

    def _send(self, phone: Phone, expect: int) -> None:
        phone.expect = expect
        data = phone.request(expect == CREDENTIALS)
        phone.sent_at = time.perf_counter()
        self.inflight[phone.call_id.encode()] = phone
        self.requests += 1
        self.sockets[phone.sock].sendto(data)

    def _finish(self, phone: Phone, failure: str | None) -> None:
        if failure is not None:
            self.failures[("setup " if self._setup else "") + failure] += 1
        self.idle.append(phone)
        self._pump()

    async def _sweep(self) -> None:
        """Every tenth of a second: a transaction unanswered past the timeout fails."""
        while True:
            await asyncio.sleep(0.1)
            horizon = time.perf_counter() - self.request_timeout
            late = [key for key, phone in self.inflight.items() if phone.sent_at < horizon]
            for key in late:
                self._finish(self.inflight.pop(key), "timeout")

    # -- answers ----------------------------------------------------------------------------

    def answer(self, data: bytes) -> None:
        try:
            status = int(data[8:11])
            start = data.index(b"\r\nCall-ID: ") + 11
            key = data[start : data.index(b"\r\n", start)]
            start = data.index(b"\r\nCSeq: ") + 8
            cseq = int(data[start : data.index(b" ", start)])
        except ValueError:
            self.stray += 1
            return
        phone = self.inflight.get(key)
        if phone is None or cseq != phone.cseq:
            self.stray += 1
            return
        if status < 200:
            return  # provisional: the final answer follows
        del self.inflight[key]
        self.statuses[status] += 1
        if phone.expect == CHALLENGE:
            if status != 401 or not phone.take_challenge(data, self.algorithm):
                self._finish(phone, f"status {status} to a REGISTER without credentials")
            elif self._setup:
                self._finish(phone, None)
            else:
                self._send(phone, CREDENTIALS)
        elif status == 200:
            self.registered += 1
            micros = int((time.perf_counter() - phone.began) * 1e6)
            self.latency.record_value(min(max(micros, 1), MAX_US))
            self._finish(phone, None)
        elif status == 401 and b"stale=true" in data and phone.take_challenge(data, self.algorithm):
            self.stale += 1
            self._send(phone, CREDENTIALS)
        else:
            self._finish(phone, f"status {status} to credentials")

    def report(self, seconds: float, sockets: int) -> dict[str, Any]:
        found = {f"p{p:g}": self.latency.get_value_at_percentile(p) / 1000 for p in PERCENTILES}
        return {
            "mode": self.mode,
            "accounts": len(self.phones),
            "count": self.count,
            "window": self.window,
            "sockets": sockets,
            "duration_s": round(seconds, 3),
            "registrations": self.registered,
            "registrations_per_s": round(self.registered / seconds, 1) if seconds else 0.0,
            "register_requests": self.requests,
            "register_requests_per_s": round(self.requests / seconds, 1) if seconds else 0.0,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "failures": dict(self.failures),
            "stale": self.stale,
            "stray": self.stray,
            "latency_ms": {**found, "max": self.latency.get_max_value() / 1000},
        }


class _Receiver(asyncio.DatagramProtocol):
    def __init__(self, driver: Driver) -> None:
        self.answer = driver.answer

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.answer(data)

    def error_received(self, exc: Exception) -> None:
        return None  # ECONNREFUSED before the edge listens: its transaction times out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phones-csv", required=True, help="phone list of provedge loadtest seed")
    parser.add_argument("--accounts", type=int, help="only the first N accounts")
    parser.add_argument("--host", default="127.0.0.1", help="the edge's SIP address (loopback)")
    parser.add_argument("--port", type=int, required=True, help="the edge's SIP port (UDP)")
    parser.add_argument("--mode", choices=MODES, default="preauth")
    parser.add_argument("--count", type=int, default=100_000, help="registrations to make")
    parser.add_argument("--window", type=int, default=64, help="REGISTERs in flight at most")
    parser.add_argument("--sockets", type=int, default=4, help="UDP sockets of the driver")
    parser.add_argument("--request-timeout", type=float, default=2.0,
                        help="seconds a REGISTER waits for its answer")  # fmt: skip
    parser.add_argument("--timeout", type=float, default=120.0, help="deadline of the run (s)")
    parser.add_argument("--out", type=Path, help="JSON report")
    args = parser.parse_args(argv)
    if args.host not in phones.LOOPBACK:
        raise SystemExit(f"{args.host}: load tests go to loopback only")
    rows = phones.load(args.phones_csv)[: args.accounts]
    driver = Driver(rows, args.mode, args.count, args.window, args.request_timeout)
    runner: Callable[[Any], dict[str, Any]] = loop.runner()
    report = runner(driver.run(args.host, args.port, args.sockets, args.timeout))
    text = json.dumps(report, indent=1)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    print(text, flush=True)
    return 1 if report["failures"] or report["registrations"] < args.count else 0


if __name__ == "__main__":
    sys.exit(main())
