"""The ``jobs`` table: queue, read, progress and cancel (schema.sql has the rules).

A job's view is ``{id, kind, tenant, state, done, total, errors, error_count, rate_per_s,
eta_s, created_at, started_at, finished_at}``; ``rate_per_s`` and ``eta_s`` are measured
over the current run, so a job resumed after a restart does not count the downtime.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

import orjson

from control.storage.db import Database

STATES = ("queued", "running", "done", "failed", "cancelled")
ACTIVE = ("queued", "running")
MAX_ERRORS_KEPT = 100
_NOW = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"


def enqueue(
    conn: sqlite3.Connection, kind: str, tenant_id: int | None, params: dict[str, Any] | None = None
) -> int:
    """Queue a job inside the caller's transaction; an equal job still queued or running
    is returned instead, since it will do this work too (jobs pick up what is pending
    when they run, not what was pending when they were queued)."""
    encoded = orjson.dumps(params or {}, option=orjson.OPT_SORT_KEYS).decode()
    row = conn.execute(
        "SELECT id FROM jobs WHERE kind = ? AND tenant_id IS ? AND params = ?"
        " AND state IN ('queued', 'running') ORDER BY id LIMIT 1",
        (kind, tenant_id, encoded),
    ).fetchone()
    if row is not None:
        return int(row["id"])
    cur = conn.execute(
        "INSERT INTO jobs (kind, tenant_id, params) VALUES (?, ?, ?)", (kind, tenant_id, encoded)
    )
    return int(cur.lastrowid or 0)


def view(row: sqlite3.Row, now: float | None = None) -> dict[str, Any]:
    rate = eta = None
    if row["state"] == "running" and row["run_started"] is not None:
        elapsed = (now or time.time()) - row["run_started"]
        moved = row["done"] - row["run_done"]
        if elapsed > 0 and moved > 0:
            rate = round(moved / elapsed, 1)
            eta = round(max(row["total"] - row["done"], 0) / (moved / elapsed), 1)
    return {
        "id": row["id"],
        "kind": row["kind"],
        "tenant": row["tenant_id"],
        "state": row["state"],
        "done": row["done"],
        "total": row["total"],
        "errors": orjson.loads(row["errors"]),
        "error_count": row["error_count"],
        "rate_per_s": rate,
        "eta_s": eta,
        "created_at": row["created_at"],
        "started_at": row["started_at"],
        "finished_at": row["finished_at"],
    }


def get(db: Database, job_id: int) -> sqlite3.Row | None:
    return db.query_one("SELECT * FROM jobs WHERE id = ?", (job_id,))


def listing(
    db: Database, state: str | None, scope: int | None, limit: int = 100
) -> list[sqlite3.Row]:
    return db.query(
        "SELECT * FROM jobs WHERE (? IS NULL OR state = ?) AND (? IS NULL OR tenant_id = ?)"
        " ORDER BY id DESC LIMIT ?",
        (state, state, scope, scope, limit),
    )


def request_cancel(db: Database, job_id: int) -> None:
    """A queued job is cancelled at once; a running one at the end of its current step."""
    with db.transaction() as conn:
        conn.execute(
            f"UPDATE jobs SET state = 'cancelled', finished_at = {_NOW}"
            " WHERE id = ? AND state = 'queued'",
            (job_id,),
        )
        conn.execute(
            "UPDATE jobs SET cancel_requested = 1 WHERE id = ? AND state = 'running'", (job_id,)
        )


def next_job(db: Database, kinds: tuple[str, ...]) -> sqlite3.Row | None:
    """The job of ``kinds`` to run: one left running by a process that died first
    (resume), then the oldest queued."""
    marks = ", ".join("?" * len(kinds))
    return db.query_one(
        f"SELECT * FROM jobs WHERE state IN ('queued', 'running') AND kind IN ({marks})"
        " ORDER BY state = 'queued', id LIMIT 1",
        kinds,
    )


def start(db: Database, job_id: int, total: int) -> None:
    with db.transaction() as conn:
        conn.execute(
            f"UPDATE jobs SET state = 'running', started_at = coalesce(started_at, {_NOW}),"
            " total = max(total, done + ?), run_started = ?, run_done = done WHERE id = ?",
            (total, time.time(), job_id),
        )


def progress(db: Database, job_id: int, done: int, errors: list[dict[str, str]]) -> bool:
    """Record ``done`` more items and their errors; True when a cancel was asked for."""
    with db.transaction() as conn:
        row = conn.execute(
            "SELECT errors, cancel_requested FROM jobs WHERE id = ?", (job_id,)
        ).fetchone()
        kept = (orjson.loads(row["errors"]) + errors)[:MAX_ERRORS_KEPT]
        conn.execute(
            "UPDATE jobs SET done = done + ?, total = max(total, done + ?),"
            " error_count = error_count + ?, errors = ? WHERE id = ?",
            (done, done, len(errors), orjson.dumps(kept).decode(), job_id),
        )
        return bool(row["cancel_requested"])


def finish(
    db: Database, job_id: int, state: str, error: str | None = None, fill: bool = True
) -> None:
    """``fill``: a done job did all its items (False: done stays what it counted)."""
    with db.transaction() as conn:
        if error is not None:
            row = conn.execute("SELECT errors FROM jobs WHERE id = ?", (job_id,)).fetchone()
            kept = (orjson.loads(row["errors"]) + [{"item": "", "error": error}])[:MAX_ERRORS_KEPT]
            conn.execute(
                "UPDATE jobs SET errors = ?, error_count = error_count + 1 WHERE id = ?",
                (orjson.dumps(kept).decode(), job_id),
            )
        # A job that ran out of work did all of it: a step that a killed process finished
        # but could not count is done too, so a done job shows done == total.
        conn.execute(
            f"UPDATE jobs SET state = ?, finished_at = {_NOW}, total = max(total, done),"
            " done = CASE WHEN ? = 'done' AND ? THEN max(total, done) ELSE done END"
            " WHERE id = ?",
            (state, state, int(fill), job_id),
        )
