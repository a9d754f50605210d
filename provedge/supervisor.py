"""Keeps the servers of ``provedge run`` up: each child is restarted on its own.

The edge must outlive its control plane (the phones keep booting while the control plane
is down), so a child that exits takes nobody else with it: the supervisor says so on
stderr and starts it again after a backoff (0.5 s, doubling to 30 s; back to 0.5 s once
it has stayed up for 30 s). A child that cannot stay up is treated by its role:

- the control plane is restarted for as long as ``provedge run`` runs (the edge serves
  meanwhile);
- the edge, after five exits in a row each within 30 s of its start, stops everything and
  ``provedge run`` exits with 1: phones cannot be served, so an operator must look.

Only SIGTERM or SIGINT to ``provedge run`` stops every child (exit code 0).
"""

from __future__ import annotations

import signal
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field

BACKOFF_FIRST = 0.5
BACKOFF_MAX = 30.0
STABLE_AFTER = 30.0  # seconds up after which a child counts as healthy again
EDGE_GIVE_UP = 5  # quick exits in a row after which the edge is not restarted
READY_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
POLL = 0.1


@dataclass
class Child:
    name: str
    argv: list[str]
    url: str  # base URL; its /healthz answers when the child is up
    give_up_after: int | None  # quick exits in a row; None: restart for ever
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    quick_exits: int = 0
    restart_at: float | None = None
    backoff: float = field(default=BACKOFF_FIRST)

    def start(self) -> None:
        self.proc = subprocess.Popen(self.argv)
        self.started_at = time.monotonic()
        self.restart_at = None

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def exited(self, now: float) -> bool:
        """Note an exit and plan the restart; False when the child may not come back."""
        assert self.proc is not None
        up_for = now - self.started_at
        if up_for >= STABLE_AFTER:
            self.quick_exits, self.backoff = 0, BACKOFF_FIRST
        else:
            self.quick_exits += 1
        code = self.proc.returncode
        how = f"was killed by signal {-code}" if code < 0 else f"exited with {code}"
        if self.give_up_after is not None and self.quick_exits >= self.give_up_after:
            _say(f"{self.name} {how}, {self.quick_exits} times within {STABLE_AFTER:.0f} s of "
                 "starting: giving up")  # fmt: skip
            return False
        _say(f"{self.name} {how} after {up_for:.1f} s; restarting it in {self.backoff:.1f} s")
        self.restart_at = now + self.backoff
        self.backoff = min(self.backoff * 2, BACKOFF_MAX)
        self.proc = None
        return True


class Supervisor:
    def __init__(self, children: dict[str, tuple[list[str], str]], essential: str = "edge"):
        self.children = [
            Child(name, argv, url, EDGE_GIVE_UP if name == essential else None)
            for name, (argv, url) in children.items()
        ]
        self.stopping = False

    def run(self, on_ready: Callable[[], None] | None = None) -> int:
        """Start every child, keep them up until SIGTERM/SIGINT; the exit code of run."""
        previous = {sig: signal.signal(sig, self._stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            for child in self.children:
                child.start()
            if self._wait_ready() and on_ready is not None and not self.stopping:
                on_ready()
                sys.stdout.flush()
            code = self._watch()
        finally:
            self._stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return code

    def _stop(self, signum: int, frame: object) -> None:
        self.stopping = True

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + READY_TIMEOUT
        pending = list(self.children)
        while pending and time.monotonic() < deadline and not self.stopping:
            if not all(child.running() for child in self.children):
                return False  # _watch reports it and restarts it
            if _healthy(pending[0].url):
                pending.pop(0)
            else:
                time.sleep(POLL)
        return not pending

    def _watch(self) -> int:
        while not self.stopping:
            now = time.monotonic()
            for child in self.children:
                exited = child.proc is not None and child.proc.poll() is not None
                if exited and not child.exited(now):
                    return 1
                if child.restart_at is not None and now >= child.restart_at:
                    child.start()
            time.sleep(POLL)
        return 0

    def _stop_all(self) -> None:
        live = [c for c in self.children if c.running()]
        for child in live:
            assert child.proc is not None
            child.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for child in live:
            assert child.proc is not None
            try:
                child.proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                _say(f"{child.name} did not stop within {STOP_TIMEOUT:.0f} s: killing it")
                child.proc.kill()
                child.proc.wait()


def _probe_tls() -> ssl.SSLContext:
    """The readiness probe asks its own child on this host whether it is up; it does not
    judge the child's certificate (often self-signed, or named for a public host)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/healthz", timeout=1, context=_probe_tls()) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _say(text: str) -> None:
    print(f"provedge run: {text}", file=sys.stderr, flush=True)
