"""The control plane's Prometheus metrics (``GET /metrics``, an operator route).

One process (uvicorn), so plain prometheus-client objects in a registry of the app's own:
``provedge_control_http_requests_total{operation, status}`` counted by the route table's
endpoint wrapper, and, read from SQLite at each scrape (a few ``COUNT`` queries on
indexed columns):

- ``provedge_jobs{state}``: jobs by state (every state, zeros included);
- ``provedge_jobs_rate_per_second``: items per second of the running jobs (the compile
  rate of a ``recompile``);
- ``provedge_devices`` and ``provedge_devices_unpublished``: devices, and those whose
  files are ahead of LMDB (the publish backlog).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from control.jobs import store as jobs
from control.storage.db import Database


class _State(Collector):
    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterator[Any]:
        states = dict.fromkeys(jobs.STATES, 0)
        for row in self.db.query("SELECT state, COUNT(*) AS n FROM jobs GROUP BY state"):
            states[row["state"]] = row["n"]
        by_state = GaugeMetricFamily("provedge_jobs", "jobs by state", labels=["state"])
        for state, n in states.items():
            by_state.add_metric([state], n)
        yield by_state
        running = self.db.query("SELECT * FROM jobs WHERE state = 'running'")
        rate = sum(jobs.view(row)["rate_per_s"] or 0.0 for row in running)
        yield GaugeMetricFamily(
            "provedge_jobs_rate_per_second", "items per second of the running jobs", value=rate
        )
        (total, behind) = self.db.query(
            "SELECT COUNT(*), COUNT(*) FILTER (WHERE published_rev < rev) FROM devices"
        )[0]
        yield GaugeMetricFamily("provedge_devices", "devices", value=total)
        yield GaugeMetricFamily(
            "provedge_devices_unpublished", "devices whose files are ahead of LMDB", value=behind
        )


class ControlMetrics:
    def __init__(self, db: Database) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.requests = Counter(
            "provedge_control_http_requests",
            "control API requests by route table operation and status",
            ["operation", "status"],
            registry=self.registry,
        )
        self.registry.register(_State(db))

    def render(self) -> bytes:
        return generate_latest(self.registry)
