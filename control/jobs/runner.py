"""Runs jobs one at a time on a thread of the control plane, never inside a request.

The runner takes the next job (one left running by a dead process first: it resumes),
asks its kind how much is left, then runs steps until a step does nothing, recording
progress after each and stopping at the end of a step when a cancel was asked for. It
wakes when this process queues a job (:meth:`wake`) and polls for jobs other processes
(the CLI) queued.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any

import orjson

from control.jobs import store
from control.jobs.kinds import JobKind
from control.storage.audit import Actor, acting
from control.storage.db import Database

log = logging.getLogger("provedge.jobs")
POLL_SECONDS = 1.0


class JobRunner:
    def __init__(self, db: Database, kinds: Mapping[str, JobKind], name: str = "jobs") -> None:
        """Runs the jobs of ``kinds`` only: a kind that waits on phones for minutes (reboot)
        has a runner of its own, so recompiles never queue behind it."""
        self.db = db
        self.kinds = kinds
        self.name = name
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._loop, name=f"provedge-{self.name}", daemon=True
        )
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        """Stop at the end of the current step; the job stays running and resumes later."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()

    def _loop(self) -> None:
        while not self._stop.is_set():
            if not self.run_one():
                self._wake.wait(POLL_SECONDS)
                self._wake.clear()

    def run_until_idle(self) -> None:
        """Run every queued job to its end in the calling thread (CLI, tests, start-up)."""
        while self.run_one():
            pass

    def run_one(self) -> bool:
        job = store.next_job(self.db, tuple(self.kinds))
        if job is None:
            return False
        kind = self.kinds.get(job["kind"])
        if kind is None:
            store.finish(self.db, job["id"], "failed", f"unknown job kind {job['kind']!r}")
            return True
        params: dict[str, Any] = {**orjson.loads(job["params"]), "job": job["id"]}
        try:
            # What the job changes is recorded in the audit trail as the job's.
            with acting(Actor("job", f"{job['kind']} #{job['id']}")):
                self._run(job["id"], kind, job["tenant_id"], params)
        except Exception as exc:  # a failed job is reported, the runner goes on
            log.exception("job %s failed", job["id"])
            store.finish(self.db, job["id"], "failed", f"{type(exc).__name__}: {exc}")
        return True

    def _run(
        self, job_id: int, kind: JobKind, tenant_id: int | None, params: dict[str, Any]
    ) -> None:
        store.start(self.db, job_id, kind.remaining(tenant_id, params))
        while True:
            if self._stop.is_set():
                return  # left running: the next start resumes it
            result = kind.step(tenant_id, params)
            cancel = store.progress(self.db, job_id, result.done, result.errors)
            if cancel:
                kind.cancelled(tenant_id, params)
                store.finish(self.db, job_id, "cancelled")
                return
            if result.wait_s > 0:
                self._stop.wait(result.wait_s)
            elif result.shortfall is not None:
                store.finish(self.db, job_id, "done", result.shortfall, fill=False)
                return
            elif result.done == 0:
                store.finish(self.db, job_id, "done")
                return
