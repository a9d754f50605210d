"""The storm driver: every phone of the list boots within a window, from one asyncio process.

For rates beyond one locust process (issue 19). Phone i starts at ``i * window / N``
seconds and fetches its boot chain in order, each file on a new connection (as phones do
at boot; ``--keep-alive``: one connection per phone), with its real User-Agent. Every
file's latency (connect to last body byte) goes into an HDR histogram of its step (the
n-th file of a chain) and into a one-second bin of the timeline. Bounded: at most
``--phones`` phones, at most ``--concurrency`` connections open at once, and a deadline
(``--timeout``) after which whatever still runs is cancelled and counted as an error of
kind ``deadline``. Loopback only (the phone list is refused otherwise).

With ``--sip HOST:PORT`` each phone then registers as it does after booting: REGISTER,
the 401 challenge, REGISTER with its digest credentials, 200 (over UDP, one socket shared
by all phones, answers matched by Call-ID and CSeq; each request retransmitted as a
phone does over UDP, RFC 3261 17.1.1.2's timer A from 0.5 s doubling, until 5 s without
an answer). That step is ``register`` in the report, and any other answer or a timeout is
an error of kind ``sip <status>`` or ``sip timeout``.

With ``--accounting DATA`` (the edge's data directory; ``make storm`` passes it) it then
checks that the edge counted every fetch: each phone's ``provision_count`` grew by the
number of its own files it was served, none lost (loadtest/accounting.py); a phone
counted wrong makes the exit status 1.

It writes ``<out>.json`` (phones/s, requests/s, errors by kind, p50/p90/p99/p99.9 and max
per step in ms, the timeline) and ``<out>.png`` (requests/s and p50/p99 latency over time).

    .venv/bin/python -m loadtest.storm --phones-csv phones.csv --window 10 --out storm
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
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from hdrh.histogram import HdrHistogram

from loadtest import accounting, loop, phones
from loadtest.register import Phone as SipPhone

SIP_TIMEOUT_S = 5.0
T1_S, T2_S = 0.5, 4.0  # RFC 3261 timer A: first retransmission, and the cap of its doubling
SOCKET_BUFFER = 8 << 20  # a storm's answers must not overflow the leg's receive buffer
_CALL_ID = re.compile(rb"\r\nCall-ID: ([^\r]*)")
_CSEQ = re.compile(rb"\r\nCSeq: (\d+)")

MAX_US = 60_000_000  # the histograms' range: 1 µs to 60 s, 3 significant digits
PERCENTILES = (50, 90, 99, 99.9)


def _histogram() -> HdrHistogram:
    return HdrHistogram(1, MAX_US, 3)


class SipLeg(asyncio.DatagramProtocol):
    """The storm's one UDP socket for REGISTERs: answers go to the phone whose Call-ID
    and CSeq they carry (a late answer to a retransmitted first REGISTER is not the
    answer to the second)."""

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.waiting: dict[tuple[bytes, int], asyncio.Future[bytes]] = {}
        self.retransmissions = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        for option in (socket.SO_RCVBUF, socket.SO_SNDBUF):
            sock.setsockopt(socket.SOL_SOCKET, option, SOCKET_BUFFER)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        call_id, cseq = _CALL_ID.search(data), _CSEQ.search(data)
        key = (call_id.group(1), int(cseq.group(1))) if call_id and cseq else None
        future = self.waiting.pop(key, None) if key else None
        if future is not None and not future.done():
            future.set_result(data)

    async def exchange(self, key: tuple[bytes, int], request: bytes, to: tuple[str, int]) -> bytes:
        """Send ``request`` (Call-ID and CSeq ``key``) until its answer comes; the answer."""
        assert self.transport is not None
        future = asyncio.get_running_loop().create_future()
        self.waiting[key] = future
        deadline = time.monotonic() + SIP_TIMEOUT_S
        interval = T1_S
        try:
            while True:
                self.transport.sendto(request, to)
                left = max(0.0, deadline - time.monotonic())
                done, _ = await asyncio.wait([future], timeout=min(interval, left))
                if done:
                    return future.result()
                if time.monotonic() >= deadline:
                    raise TimeoutError
                self.retransmissions += 1
                interval = min(interval * 2, T2_S)
        finally:
            self.waiting.pop(key, None)


class Storm:
    def __init__(self, rows: list[dict[str, str]], window: float, concurrency: int,
                 keep_alive: bool, sip: tuple[str, int] | None = None) -> None:  # fmt: skip
        self.rows = rows
        self.sip = sip
        self.leg: SipLeg | None = None
        self.run_id = secrets.token_hex(3)
        self.window = window
        self.keep_alive = keep_alive
        self.slots = asyncio.Semaphore(concurrency)
        self.steps: dict[int | str, HdrHistogram] = {}
        self.bins: dict[int, HdrHistogram] = {}
        self.errors: Counter[str] = Counter()
        self.statuses: Counter[int] = Counter()
        self.served: Counter[str] = Counter()  # MAC -> its own files answered 200/304
        self.phones_done = 0
        self.launched = 0
        self.started = 0.0

    async def run(self, timeout: float) -> float:
        if self.sip is not None:
            _, leg = await asyncio.get_running_loop().create_datagram_endpoint(
                SipLeg, local_addr=("127.0.0.1", 0)
            )
            self.leg = leg
        self.started = time.monotonic()
        running: set[asyncio.Future[None]] = set()
        launcher = asyncio.ensure_future(self._launch(running))
        await asyncio.wait([launcher], timeout=timeout)
        if not launcher.done():  # the deadline came before the last phone's start
            launcher.cancel()
            self.errors["deadline"] += len(self.rows) - self.launched
        left = max(0.0, self.started + timeout - time.monotonic())
        _done, pending = await asyncio.wait(running, timeout=left) if running else (set(), set())
        for task in pending:
            task.cancel()
        if pending:
            self.errors["deadline"] += len(pending)
        await asyncio.gather(launcher, *pending, return_exceptions=True)
        if self.leg is not None and self.leg.transport is not None:
            self.leg.transport.close()
        return time.monotonic() - self.started

    async def _launch(self, running: set[asyncio.Future[None]]) -> None:
        """Start phone i at ``i * window / N`` s. Each phone's task is made when its time
        comes, not all at the start: 100,000 sleeping tasks made at once cost the first
        seconds of the storm (and the collector's full passes over them) their latency."""
        count = len(self.rows)
        for index, row in enumerate(self.rows):
            delay = self.started + index * self.window / count - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.ensure_future(self.phone(row))
            running.add(task)
            task.add_done_callback(running.discard)
            self.launched += 1

    async def phone(self, row: dict[str, str]) -> None:
        url = urlsplit(row["url"])
        host, port = url.hostname or "127.0.0.1", url.port or 80
        head = f"Host: {url.netloc}\r\nUser-Agent: {row['user_agent']}\r\n"
        connection: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        async with self.slots:
            try:
                for step, name in enumerate(row["files"].split(), start=1):
                    began = time.monotonic()
                    if connection is None:
                        connection = await asyncio.open_connection(host, port)
                    close = "" if self.keep_alive else "Connection: close\r\n"
                    request = f"GET {url.path}{name} HTTP/1.1\r\n{head}{close}\r\n"
                    status = await _exchange(*connection, request.encode())
                    if not self.keep_alive:
                        connection[1].close()
                        connection = None
                    self._record(step, began)
                    self.statuses[status] += 1
                    if status in (200, 304) and (mac := accounting.own_mac(name)):
                        self.served[mac] += 1
                    if status != 200:
                        self.errors[f"http {status}"] += 1
                        return
                if self.leg is not None and not await self.register(row):
                    return
                self.phones_done += 1
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                self.errors[type(exc).__name__] += 1
            finally:
                if connection is not None:
                    connection[1].close()

    async def register(self, row: dict[str, str]) -> bool:
        """The phone's REGISTER with its challenge; False (and the error counted) when it
        did not end in 200."""
        assert self.leg is not None and self.sip is not None
        local = self.leg.transport.get_extra_info("sockname") if self.leg.transport else ("", 0)
        phone = SipPhone(row, 0, local[:2], self.run_id, 300)
        call_id = phone.call_id.encode()
        began = time.monotonic()
        try:
            request = phone.request(False)
            answer = await self.leg.exchange((call_id, phone.cseq), request, self.sip)
            if _status(answer) == 401 and phone.take_challenge(answer, "MD5"):
                request = phone.request(True)
                answer = await self.leg.exchange((call_id, phone.cseq), request, self.sip)
        except TimeoutError:
            self.errors["sip timeout"] += 1
            return False
        status = _status(answer)
        self._record("register", began)
        if status != 200:
            self.errors[f"sip {status}"] += 1
            return False
        return True

    def _record(self, step: int | str, began: float) -> None:
        now = time.monotonic()
        micros = min(max(int((now - began) * 1e6), 1), MAX_US)
        self.steps.setdefault(step, _histogram()).record_value(micros)
        self.bins.setdefault(int(now - self.started), _histogram()).record_value(micros)

    def report(self, seconds: float) -> dict[str, Any]:
        requests = sum(self.statuses.values())
        return {
            "phones": len(self.rows),
            "phones_done": self.phones_done,
            "window_s": self.window,
            "duration_s": round(seconds, 3),
            "phones_per_s": round(self.phones_done / seconds, 1),
            "requests": requests,
            "requests_per_s": round(requests / seconds, 1),
            "keep_alive": self.keep_alive,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "errors": dict(self.errors),
            "sip_retransmissions": self.leg.retransmissions if self.leg is not None else 0,
            "steps_ms": {
                (f"file {step}" if isinstance(step, int) else str(step)): _summary(h)
                for step, h in sorted(self.steps.items(), key=lambda item: str(item[0]))
            },
            "timeline": [
                {"t_s": t, "requests": h.get_total_count(), **_summary(h)}
                for t, h in sorted(self.bins.items())
            ],
        }


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    request: bytes) -> int:  # fmt: skip
    """Send one request, read its whole answer; its status."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length = next((int(line.split(b":", 1)[1]) for line in lines[1:]
                   if line.lower().startswith(b"content-length:")), 0)  # fmt: skip
    await reader.readexactly(length)
    return status


def _status(answer: bytes) -> int:
    try:
        return int(answer[8:11])
    except ValueError:
        return 0


def _summary(histogram: HdrHistogram) -> dict[str, float]:
    found = {f"p{p:g}": histogram.get_value_at_percentile(p) / 1000 for p in PERCENTILES}
    return {**found, "max": histogram.get_max_value() / 1000, "count": histogram.get_total_count()}


def plot(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    line = report["timeline"]
    seconds = [b["t_s"] for b in line]
    figure, (rate, latency) = plt.subplots(2, 1, sharex=True, figsize=(9, 6))
    rate.plot(seconds, [b["requests"] for b in line], drawstyle="steps-post")
    rate.set_ylabel("requests/s")
    rate.set_title(f"storm: {report['phones']} phones in {report['window_s']:g} s, "
                   f"{sum(report['errors'].values())} errors")  # fmt: skip
    for key in ("p50", "p99"):
        latency.plot(seconds, [b[key] for b in line], label=key)
    latency.set_ylabel("latency per file (ms)")
    latency.set_xlabel("seconds since the storm began")
    latency.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phones-csv", required=True, help="phone list of provedge loadtest seed")
    parser.add_argument("--phones", type=int, help="only the first N phones")
    parser.add_argument("--window", type=float, default=10.0, help="seconds for every boot")
    parser.add_argument("--concurrency", type=int, default=1000, help="connections at once")
    parser.add_argument("--keep-alive", action="store_true", help="one connection per phone")
    parser.add_argument("--timeout", type=float, default=120.0, help="deadline of the storm (s)")
    parser.add_argument("--out", type=Path, required=True, help="report path, without suffix")
    parser.add_argument("--sip", help="HOST:PORT of the edge's SIP: each phone registers too")
    parser.add_argument(
        "--accounting",
        type=Path,
        metavar="DATA",
        help="the edge's data directory: check that it counted every fetch of the storm",
    )
    args = parser.parse_args(argv)
    sip = None
    if args.sip:
        host, _, port = args.sip.rpartition(":")
        if not phones.is_loopback(host) or not port.isdigit():
            parser.error("--sip takes a loopback HOST:PORT")
        sip = (host, int(port))
    rows = phones.load(args.phones_csv)[: args.phones]
    runner: Callable[[Any], float] = loop.runner()
    storm = Storm(rows, args.window, args.concurrency, args.keep_alive, sip)
    macs = sorted({mac for row in rows for name in row["files"].split()
                   if (mac := accounting.own_mac(name))})  # fmt: skip
    before = accounting.counts(args.accounting, macs) if args.accounting else {}
    report = storm.report(runner(storm.run(args.timeout)))
    if args.accounting:
        report["accounting"] = accounting.check(args.accounting, before, storm.served)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=1) + "\n")
    plot(report, args.out.with_suffix(".png"))
    print(json.dumps({k: v for k, v in report.items() if k not in ("timeline", "steps_ms")}))
    counted = report.get("accounting", {})
    return 1 if report["errors"] or counted.get("phones_wrong") else 0


if __name__ == "__main__":
    sys.exit(main())
