"""The control plane's Prometheus metrics (``GET /metrics``, an operator route).

One process (uvicorn), so plain prometheus-client objects in a registry of the app's own:
``provedge_control_http_requests_total{operation, status}`` counted by the route table's
endpoint wrapper, and, read at each scrape:

- from SQLite (a few ``COUNT`` queries): ``provedge_jobs{state}``, jobs by state (every
  state, zeros included); ``provedge_jobs_rate_per_second``, items per second of the
  running jobs (the compile rate of a ``recompile``); ``provedge_devices``,
  ``provedge_devices_unpublished`` and ``provedge_accounts_unpublished``: devices, and
  the devices and account records ahead of LMDB (the publish backlog);
  ``provedge_publish_backlog_age_seconds``: how long the oldest change not yet in LMDB
  has waited (0 with no backlog; schema.sql, "Ahead of LMDB");
- from LMDB: ``provedge_publish_generation``, the number of publish transactions LMDB
  holds (every publish bumps it in the same transaction, control/publish/publisher.py),
  and ``provedge_publish_generation_timestamp_seconds``, when the last one ended;
- from this process's publish steps: ``provedge_publish_lag_seconds{kind}``, a histogram
  of seconds from a change's write to the end of the LMDB transaction that published it,
  when the edge serves it (control/publish/lag.py has the exact definition);
- from the edge state (read-only, control/storage/edgestate.py): ``provedge_registrations
  {transport}``, the current SIP bindings (unexpired), and ``provedge_bans{reason}``, the
  bans in force, as ``GET /api/v1/bans`` lists them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from control import firewall
from control.jobs import store as jobs
from control.publish import lag
from provedge.formats import bans

if TYPE_CHECKING:
    from control.service import Control

_BACKLOG = """
SELECT COUNT(*), COUNT(*) FILTER (WHERE published_rev < rev),
       MIN(ahead_since) FILTER (WHERE published_rev < rev) FROM {}
"""


class _State(Collector):
    def __init__(self, ctl: Control) -> None:
        self.ctl = ctl

    def collect(self) -> Iterator[Any]:
        yield from self._jobs()
        yield from self._publishing()
        yield from self._edge_state()

    def _jobs(self) -> Iterator[Any]:
        db = self.ctl.db
        states = dict.fromkeys(jobs.STATES, 0)
        for row in db.query("SELECT state, COUNT(*) AS n FROM jobs GROUP BY state"):
            states[row["state"]] = row["n"]
        by_state = GaugeMetricFamily("provedge_jobs", "jobs by state", labels=["state"])
        for state, n in states.items():
            by_state.add_metric([state], n)
        yield by_state
        running = db.query("SELECT * FROM jobs WHERE state = 'running'")
        rate = sum(jobs.view(row)["rate_per_s"] or 0.0 for row in running)
        yield GaugeMetricFamily(
            "provedge_jobs_rate_per_second", "items per second of the running jobs", value=rate
        )

    def _publishing(self) -> Iterator[Any]:
        now = time.time()
        with self.ctl.db.read() as conn:  # one snapshot for the three tables
            backlog = {  # table -> (rows, rows ahead of LMDB, oldest ahead_since of those)
                table: tuple(conn.execute(_BACKLOG.format(table)).fetchone())
                for table in ("tenants", "devices", "accounts")
            }
        yield GaugeMetricFamily("provedge_devices", "devices", value=backlog["devices"][0])
        yield GaugeMetricFamily(
            "provedge_devices_unpublished", "devices whose files are ahead of LMDB",
            value=backlog["devices"][1],
        )  # fmt: skip
        yield GaugeMetricFamily(
            "provedge_accounts_unpublished", "account records ahead of LMDB",
            value=backlog["accounts"][1],
        )  # fmt: skip
        oldest = [since for _, _, since in backlog.values() if since is not None]
        yield GaugeMetricFamily(
            "provedge_publish_backlog_age_seconds",
            "seconds the oldest change not yet in LMDB has waited (0: none waits)",
            value=max(now - min(oldest), 0.0) if oldest else 0.0,
        )
        generation, at = self.ctl.publisher.generation()
        yield GaugeMetricFamily(
            "provedge_publish_generation", "publish transactions LMDB holds", value=generation
        )
        yield GaugeMetricFamily(
            "provedge_publish_generation_timestamp_seconds",
            "when the last publish transaction ended (0: none yet)", value=at,
        )  # fmt: skip
        histogram = HistogramMetricFamily(
            "provedge_publish_lag_seconds",
            "seconds from a change's write to the end of the LMDB transaction publishing it",
            labels=["kind"],
        )
        for kind, (buckets, seconds) in self.ctl.publishing.lag.snapshot().items():
            cumulative, running = [], 0
            for bound, n in zip([*map(str, lag.BUCKETS), "+Inf"], buckets, strict=True):
                running += n
                cumulative.append((bound, running))
            histogram.add_metric([kind], cumulative, seconds)
        yield histogram

    def _edge_state(self) -> Iterator[Any]:
        edge = self.ctl.edge_state
        registrations = GaugeMetricFamily(
            "provedge_registrations", "current SIP bindings (edge state)", labels=["transport"]
        )
        for transport, n in sorted(edge.binding_counts().items()):
            registrations.add_metric([transport], n)
        yield registrations
        with self.ctl.db.read() as conn:
            in_force = firewall.current(conn, edge, time.time())
        reasons = dict.fromkeys(bans.REASONS, 0)
        for ban in in_force.values():
            reasons[ban.reason] = reasons.get(ban.reason, 0) + 1
        by_reason = GaugeMetricFamily(
            "provedge_bans", "source addresses banned now, by reason", labels=["reason"]
        )
        for reason, n in reasons.items():
            by_reason.add_metric([reason], n)
        yield by_reason


class ControlMetrics:
    def __init__(self, ctl: Control) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.requests = Counter(
            "provedge_control_http_requests",
            "control API requests by route table operation and status",
            ["operation", "status"],
            registry=self.registry,
        )
        self.registry.register(_State(ctl))

    def render(self) -> bytes:
        return generate_latest(self.registry)
