"""The edge's Prometheus metrics: plain ints on the request path, summed across workers.

The request path touches no prometheus-client object: :meth:`Meter.observe` adds one to a
dict entry and a histogram bucket (a list of ints) and adds the duration to a float.
Each worker writes its counts as one small JSON file, ``<pid>.json`` in
``DATA/edge-metrics/`` (every ``FLUSH_SECONDS``, at shutdown, and before it answers a
scrape); ``GET /metrics``, answered by whichever worker the kernel gives the connection
to, sums every worker's file, so the totals are right for any ``--workers`` (another
worker's part is at most ``FLUSH_SECONDS`` old). The main process empties the folder at
start (``reset``), so counters start at zero with the edge, as Prometheus expects.
prometheus-client renders the sums (the text exposition format).

Metrics (HTTP ones for ``/p/`` requests; ``vendor`` from the User-Agent, ``other`` when
none matches):

- ``provedge_edge_http_requests_total{status, vendor}``;
- ``provedge_edge_http_request_duration_seconds`` (histogram; from the request reaching
  the app to its last ``send``, the server's own time not included);
- ``provedge_edge_fetches_noted_total``, ``..._sent_total``, ``..._dropped_total``: the
  fetch accounting (edge/state/recorder.py);
- ``provedge_edge_sip_requests_total{method, status}``: SIP requests by method and the
  status they were answered with (``none``: no answer, as for an ACK); counted by the SIP
  side into :attr:`Meter.sip`, a dict it shares (edge/sip/transport.py, ``counts``);
- ``provedge_edge_workers``: the workers whose counts the answer sums.
"""

from __future__ import annotations

import asyncio
import os
from bisect import bisect_left
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

METRICS_DIR = "edge-metrics"
FLUSH_SECONDS = 1.0
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
AGENT_PREFIX = 40  # bytes of the User-Agent that name the vendor
MAX_AGENTS = 4096  # distinct prefixes remembered; beyond, each is matched again
# Lowercase needles in the User-Agent, most specific first (shared/reference/vendors.md).
VENDORS = (
    (b"yealink", "yealink"),
    (b"poly", "polycom"),
    (b"cisco/spa", "cisco-spa"),
    (b"cisco-cp", "cisco-mpp"),
    (b"grandstream", "grandstream"),
    (b"snom", "snom"),
    (b"fanvil", "fanvil"),
)


def vendor_of(agent: bytes) -> str:
    lowered = agent.lower()
    return next((vendor for needle, vendor in VENDORS if needle in lowered), "other")


class Meter:
    """One worker's counts; ``observe`` is the whole per-request cost."""

    def __init__(self, folder: Path | None = None) -> None:
        self.requests: dict[tuple[int, str], int] = {}
        # (method, status; 0: no answer) -> SIP requests, incremented by SipContext.handle
        self.sip: dict[tuple[str, int], int] = {}
        self.buckets = [0] * (len(BUCKETS) + 1)  # the last one: above every bound
        self.seconds = 0.0
        self.folder = folder
        # other counters, read at each snapshot: the recorder's stats (EdgeApp sets it)
        self.stats: Callable[[], dict[str, int]] | None = None
        self._vendors: dict[bytes, str] = {}
        self._timer: asyncio.TimerHandle | None = None

    def vendor(self, agent: bytes | None) -> str:
        key = agent[:AGENT_PREFIX] if agent else b""
        found = self._vendors.get(key)
        if found is None:
            found = vendor_of(key)
            if len(self._vendors) < MAX_AGENTS:
                self._vendors[key] = found
        return found

    def observe(self, status: int, vendor: str, seconds: float) -> None:
        key = (status, vendor)
        self.requests[key] = self.requests.get(key, 0) + 1
        self.buckets[bisect_left(BUCKETS, seconds)] += 1
        self.seconds += seconds

    def snapshot(self) -> dict[str, Any]:
        return {
            "requests": [[status, vendor, n] for (status, vendor), n in self.requests.items()],
            "sip": [[method, status, n] for (method, status), n in self.sip.items()],
            "buckets": self.buckets,
            "seconds": self.seconds,
            "extra": self.stats() if self.stats is not None else {},
        }

    # -- the worker's file -------------------------------------------------------------

    def flush(self) -> None:
        if self.folder is None:
            return
        path = self.folder / f"{os.getpid()}.json"
        temporary = path.with_suffix(".tmp")
        fd = os.open(temporary, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)  # owner-only
        with os.fdopen(fd, "wb") as out:
            out.write(orjson.dumps(self.snapshot()))
        os.replace(temporary, path)  # a reader sees the old file or the new one, whole

    def start(self) -> None:
        self._timer = asyncio.get_running_loop().call_later(FLUSH_SECONDS, self._tick)

    def _tick(self) -> None:
        self.flush()
        self.start()

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self.flush()

    def snapshots(self) -> list[dict[str, Any]]:
        """Every worker's counts (this one's fresh), for a scrape."""
        if self.folder is None:
            return [self.snapshot()]
        self.flush()
        found = []
        for path in sorted(self.folder.glob("*.json")):
            try:
                found.append(orjson.loads(path.read_bytes()))
            except (OSError, orjson.JSONDecodeError):
                continue  # a file being replaced: it is read at the next scrape
        return found


def reset(data_dir: str | Path) -> Path:
    """The workers' folder, emptied: the main process calls it before starting them."""
    from provedge.private import private_dir

    folder = private_dir(Path(data_dir) / METRICS_DIR)
    for path in folder.glob("*.*"):
        path.unlink(missing_ok=True)
    return folder


class _Sums(Collector):
    def __init__(self, snapshots: list[dict[str, Any]]) -> None:
        self.snapshots = snapshots

    def collect(self) -> Iterator[Any]:
        requests = CounterMetricFamily(
            "provedge_edge_http_requests",
            "HTTP requests for /p/ files",
            labels=["status", "vendor"],
        )
        totals: dict[tuple[int, str], int] = {}
        buckets = [0] * (len(BUCKETS) + 1)
        seconds = 0.0
        extra: dict[str, int] = {}
        sip: dict[tuple[str, int], int] = {}
        for snap in self.snapshots:
            for status, vendor, n in snap["requests"]:
                totals[(status, vendor)] = totals.get((status, vendor), 0) + n
            for method, status, n in snap["sip"]:
                sip[(method, status)] = sip.get((method, status), 0) + n
            buckets = [a + b for a, b in zip(buckets, snap["buckets"], strict=True)]
            seconds += snap["seconds"]
            for name, n in snap["extra"].items():
                extra[name] = extra.get(name, 0) + n
        for (status, vendor), n in sorted(totals.items()):
            requests.add_metric([str(status), vendor], n)
        yield requests
        cumulative, running = [], 0
        for bound, n in zip([*map(str, BUCKETS), "+Inf"], buckets, strict=True):
            running += n
            cumulative.append((bound, running))
        yield HistogramMetricFamily(
            "provedge_edge_http_request_duration_seconds",
            "time from a /p/ request reaching the edge app to its answer sent",
            buckets=cumulative,
            sum_value=seconds,
        )
        for name in ("noted", "sent", "dropped"):
            yield CounterMetricFamily(
                f"provedge_edge_fetches_{name}", f"fetch records {name} (edge state)",
                value=extra.get(name, 0),
            )  # fmt: skip
        sip_requests = CounterMetricFamily(
            "provedge_edge_sip_requests",
            "SIP requests by method and the status answered (none: no answer)",
            labels=["method", "status"],
        )
        for (method, status), n in sorted(sip.items()):
            sip_requests.add_metric([method, str(status) if status else "none"], n)
        yield sip_requests
        yield GaugeMetricFamily(
            "provedge_edge_workers", "worker processes summed", value=len(self.snapshots)
        )


def render(snapshots: list[dict[str, Any]]) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Sums(snapshots))
    return generate_latest(registry)
