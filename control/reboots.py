"""Remote re-sync and reboot as a job: targets, paced waves, and what became of each phone.

A request picks its devices (MACs, or a tenant with a filter) and queues a ``reboot``
job; its targets are rows of ``reboot_targets``, one per device, in waves. The job's
steps publish each wave when its time comes (``wave_pause_s`` after the one before), as
the LMDB owner ``reboot/<job>/<wave>`` (provedge/formats/reboots.py): pacing is here, so
the boot storm that follows stays within what the edge serves. The edge sends each target
its NOTIFY and reports sent / accepted / rejected / timeout / not_registered; a step
folds those in, and marks a target ``rebooted`` (mode reboot: the phone fetched its files
and registered anew, with a new Call-ID, after the NOTIFY) or ``resynced`` (mode resync:
it fetched its files after the NOTIFY). A phone's 200 alone proves nothing: only those two
count as done. A target is settled when done, not registered, rejected, or when
``confirm_s`` passed since its NOTIFY; the job ends when all are settled, and then
withdraws its waves.
"""

from __future__ import annotations

import secrets
import sqlite3
import time
from typing import Any

import orjson

from control import devicelist
from control.domain.catalog import MODELS
from control.domain.errors import invalid, not_found
from control.jobs import store as jobs
from control.jobs.kinds import StepResult
from control.publish.publisher import Publication, Publisher
from control.storage.db import Database
from control.storage.edgestate import EdgeStateReader
from provedge.formats import accounts, reboots
from provedge.formats.edgestate import iso_utc

REBOOT = "reboot"
FILTERS = tuple(devicelist.FILTERS)
SETTLED = ("rebooted", "resynced", "not_registered", "rejected")
UNTAKEN_S = 30.0  # a published target no edge worker spoke of by then: no edge has SIP
STEP_WAIT_S = 0.2
MAX_TARGETS = 1_000_000

_LINE_ACCOUNTS = """
SELECT a.id, a.username, a.realm, a.password FROM device_lines dl
JOIN extension_accounts ea ON ea.extension_id = dl.extension_id
JOIN accounts a ON a.id = ea.account_id
WHERE dl.mac = ? ORDER BY dl.position, ea.position
"""


# ---- a request ----------------------------------------------------------------------------
def select_macs(
    conn: sqlite3.Connection, tenant_id: int | None, macs: list[str] | None, filter_: str,
    q: str = "",
) -> list[str]:  # fmt: skip
    """The devices a request names: its MACs (each must exist, in the tenant when one is
    given), else the tenant's devices through ``filter_`` and the search ``q``."""
    if macs:
        found, missing = [], []
        for index, mac in enumerate(dict.fromkeys(macs)):
            row = conn.execute("SELECT tenant_id FROM devices WHERE mac = ?", (mac,)).fetchone()
            if row is None or tenant_id not in (None, row["tenant_id"]):
                missing.append(f"macs[{index}]")
            else:
                found.append(mac)
        if missing:
            raise not_found(missing[0], "device")
        return found
    if tenant_id is None:
        raise invalid("tenant", "required without macs")
    listed = devicelist.where(tenant_id, filter_, q)  # the device list's filter and search
    rows = conn.execute(
        f"SELECT d.mac FROM devices d WHERE {listed.text} ORDER BY d.mac LIMIT ?",
        [*listed.params, MAX_TARGETS],
    )
    return [row["mac"] for row in rows]


def queue(
    conn: sqlite3.Connection, tenant_id: int | None, macs: list[str] | None, filter_: str,
    job_params: dict[str, Any], q: str = "",
) -> int:  # fmt: skip
    """Queue the job and its targets in the caller's transaction (the API's and the CLI's
    one way); the job id."""
    targets = select_macs(conn, tenant_id, macs, filter_, q)
    if not targets:
        raise invalid("macs" if macs else "filter", "no device to reboot")
    job_id = jobs.enqueue(conn, REBOOT, tenant_id, job_params)
    size = int(job_params["wave_size"])
    conn.executemany(
        "INSERT INTO reboot_targets (job_id, seq, mac, wave) VALUES (?, ?, ?, ?)",
        [(job_id, seq, mac, seq // size) for seq, mac in enumerate(targets)],
    )
    # A job of the tenant all its devices are in (its admins see it), else of none.
    conn.execute(
        "UPDATE jobs SET total = :total, tenant_id = coalesce(tenant_id, (SELECT min(d.tenant_id)"
        " FROM reboot_targets t JOIN devices d ON d.mac = t.mac WHERE t.job_id = :id"
        " HAVING count(DISTINCT d.tenant_id) = 1)) WHERE id = :id",
        {"id": job_id, "total": len(targets)},
    )
    # Who rebooted what: one entry for the request (a row per device would drown the trail).
    request = {k: job_params[k] for k in ("mode", "rate_per_s", "wave_size", "wave_pause_s",
                                          "confirm_s")}  # fmt: skip
    conn.execute(
        "INSERT INTO audit (actor_role, actor_label, actor_token, tenant_id, object, action,"
        " after) SELECT audit_actor_role(), audit_actor_label(), audit_actor_token(),"
        " tenant_id, 'reboot/' || id, 'create', ? FROM jobs WHERE id = ?",
        (orjson.dumps({**request, "devices": len(targets), "macs": targets[:100]}).decode(),
         job_id),
    )  # fmt: skip
    return job_id


def params(mode: str, rate_per_s: float, wave_size: int | None, wave_pause_s: float | None,
           confirm_s: float) -> dict[str, Any]:  # fmt: skip
    """The job's parameters: waves of ``wave_size`` (default: one second's worth), one
    every ``wave_pause_s`` (default: what keeps the mean at ``rate_per_s``)."""
    size = wave_size or max(1, int(rate_per_s))
    pause = wave_pause_s if wave_pause_s is not None else size / rate_per_s
    return {
        "mode": mode, "rate_per_s": rate_per_s, "wave_size": size, "wave_pause_s": pause,
        "confirm_s": confirm_s, "token": secrets.token_hex(8),  # each request its own job
    }  # fmt: skip


# ---- the job ------------------------------------------------------------------------------
class RebootJob:
    def __init__(
        self, db: Database, publisher: Publisher, edge: EdgeStateReader, clock: Any = time.time
    ) -> None:
        self.db = db
        self.publisher = publisher
        self.edge = edge
        self._clock = clock

    def remaining(self, tenant_id: int | None, params: dict[str, Any]) -> int:
        row = self.db.query_one(
            "SELECT count(*) AS n FROM reboot_targets WHERE job_id = ?", (params["job"],)
        )
        return int(row["n"]) if row else 0

    def step(self, tenant_id: int | None, params: dict[str, Any]) -> StepResult:
        job, now = int(params["job"]), self._clock()
        self._publish_due(job, params, now)
        done, errors = self._fold(job, params, now)
        open_row = self.db.query_one(
            "SELECT count(*) AS n FROM reboot_targets WHERE job_id = ? AND settled = 0", (job,)
        )
        if open_row is not None and open_row["n"] > 0:
            return StepResult(done, errors, wait_s=STEP_WAIT_S)
        self._withdraw(job)
        row = self.db.query_one(
            "SELECT count(*) AS n FROM reboot_targets WHERE job_id = ?"
            " AND state NOT IN ('rebooted', 'resynced')",
            (job,),
        )
        short = int(row["n"]) if row else 0
        shortfall = f"{short} phone(s) did not {params['mode']}" if short else None
        return StepResult(done, errors, shortfall=shortfall)

    def cancelled(self, tenant_id: int | None, params: dict[str, Any]) -> None:
        """No NOTIFY leaves for the waves not sent yet: they are withdrawn, and the targets
        not settled stay as they are (queued ones never went out)."""
        self._withdraw(int(params["job"]))

    def _publish_due(self, job: int, params: dict[str, Any], now: float) -> None:
        first = self.db.query_one(
            "SELECT min(published_at) AS t FROM reboot_targets WHERE job_id = ?", (job,)
        )
        start = now if first is None or first["t"] is None else float(first["t"])
        due_wave = (
            int((now - start) / float(params["wave_pause_s"]))
            if params["wave_pause_s"]
            else 1 << 30
        )
        waves = self.db.query(
            "SELECT DISTINCT wave FROM reboot_targets WHERE job_id = ? AND published_at IS NULL"
            " AND wave <= ? ORDER BY wave",
            (job, due_wave),
        )
        for wave_row in waves:
            wave = int(wave_row["wave"])
            with self.db.transaction() as conn:
                rows = conn.execute(
                    "SELECT seq, mac FROM reboot_targets WHERE job_id = ? AND wave = ?",
                    (job, wave),
                ).fetchall()
                files = {
                    reboots.key(job, r["seq"]): reboots.encode(
                        _target(conn, job, r["seq"], r["mac"], params)
                    )
                    for r in rows
                }
                self.publisher.publish([Publication(reboots.owner(job, wave), files)])
                conn.execute(
                    "UPDATE reboot_targets SET published_at = ?, state = 'published'"
                    " WHERE job_id = ? AND wave = ?",
                    (now, job, wave),
                )

    def _fold(
        self, job: int, params: dict[str, Any], now: float
    ) -> tuple[int, list[dict[str, str]]]:
        outcomes = self.edge.outcomes(job)
        rows = self.db.query(
            "SELECT * FROM reboot_targets WHERE job_id = ? AND settled = 0"
            " AND published_at IS NOT NULL",
            (job,),
        )
        done, errors = 0, []
        confirm = float(params["confirm_s"])
        with self.db.transaction() as conn:
            for row in rows:
                seen = outcomes.get(int(row["seq"]))
                state, status, detail = row["state"], row["status"], row["detail"]
                contact, sent_at = row["contact"], row["sent_at"]
                if seen is not None:
                    state, status = seen["state"], seen.get("status")
                    detail = seen.get("detail") or ""
                    contact = seen.get("contact") or contact
                    at = float(seen["at"])
                    sent_at = at if sent_at is None else min(float(sent_at), at)
                settled = state in ("not_registered", "rejected")
                if (
                    sent_at is not None
                    and not settled
                    and self._came_back(conn, row["mac"], params["mode"], float(sent_at))
                ):
                    state = "rebooted" if params["mode"] == "reboot" else "resynced"
                    settled, detail = True, ""
                    done += 1
                elif not settled and sent_at is not None and now > float(sent_at) + confirm:
                    settled = True
                    detail = detail or f"did not come back within {confirm:g} s"
                elif seen is None and now > float(row["published_at"]) + UNTAKEN_S:
                    state, settled, detail = "timeout", True, "no edge worker sent it"
                if settled and state not in ("rebooted", "resynced"):
                    errors.append({"item": row["mac"], "error": f"{state}: {detail or status}"})
                if not settled and (state, status, detail, contact, sent_at) == (
                    row["state"],
                    row["status"],
                    row["detail"],
                    row["contact"],
                    row["sent_at"],
                ):
                    continue  # nothing new: no write
                conn.execute(
                    "UPDATE reboot_targets SET state = ?, status = ?, detail = ?, contact = ?,"
                    " sent_at = ?, settled = ?, settled_at = ? WHERE job_id = ? AND seq = ?",
                    (state, status, detail, contact, sent_at, int(settled),
                     now if settled else None, job, row["seq"]),
                )  # fmt: skip
        return done, errors

    def _came_back(self, conn: sqlite3.Connection, mac: str, mode: str, sent_at: float) -> bool:
        """The phone fetched its files after the NOTIFY, and for a reboot registered anew."""
        fetched = self.edge.last_fetch(mac)
        if fetched is None or fetched <= sent_at:
            return False
        if mode == "resync":
            return True
        ids = [int(r["id"]) for r in conn.execute(_LINE_ACCOUNTS, (mac,))]
        items, _ = self.edge.bindings(ids, None, b"", 100)
        return any(float(item["registered_at"]) > sent_at for item in items)

    def _withdraw(self, job: int) -> None:
        waves = self.db.query(
            "SELECT DISTINCT wave FROM reboot_targets WHERE job_id = ? AND published_at IS NOT NULL",
            (job,),
        )
        self.publisher.publish([Publication(reboots.owner(job, w["wave"]), {}) for w in waves])


def _target(
    conn: sqlite3.Connection, job: int, seq: int, mac: str, params: dict[str, Any]
) -> dict[str, Any]:
    device = conn.execute("SELECT model FROM devices WHERE mac = ?", (mac,)).fetchone()
    family = MODELS[device["model"]].vendor.id.split("-")[0] if device else ""
    lines = conn.execute(_LINE_ACCOUNTS, (mac,)).fetchall()
    credentials = []
    for line in lines:
        realms = dict.fromkeys([line["realm"], reboots.CHALLENGE_REALMS.get(family, line["realm"])])
        for realm in realms:
            credentials.append({
                "username": line["username"], "realm": realm,
                "md5": accounts.ha1(line["username"], realm, line["password"], "md5"),
                "sha256": accounts.ha1(line["username"], realm, line["password"], "sha256"),
            })  # fmt: skip
    return {
        "job": job, "seq": seq, "mac": mac, "mode": params["mode"],
        "event": reboots.event(family, params["mode"]),
        "accounts": list(dict.fromkeys(int(line["id"]) for line in lines)),
        "credentials": credentials, "token": f"{params['token']}{job:x}",
    }  # fmt: skip


# ---- what became of each phone ------------------------------------------------------------
def counts(db: Database, job_id: int) -> dict[str, int]:
    rows = db.query(
        "SELECT state, count(*) AS n FROM reboot_targets WHERE job_id = ? GROUP BY state",
        (job_id,),
    )
    return {row["state"]: int(row["n"]) for row in rows}


def results(
    db: Database, job_id: int, state: str | None, limit: int, cursor: int | None
) -> dict[str, Any]:
    rows = db.query(
        "SELECT * FROM reboot_targets WHERE job_id = ? AND (? IS NULL OR state = ?)"
        " AND seq > ? ORDER BY seq LIMIT ?",
        (job_id, state, state, -1 if cursor is None else cursor, limit + 1),
    )
    items = [_result(row) for row in rows[:limit]]
    more = len(rows) > limit
    return {"items": items, "next_cursor": str(rows[limit - 1]["seq"]) if more else None}


def _result(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "mac": row["mac"], "state": row["state"], "status": row["status"],
        "detail": row["detail"], "contact": row["contact"], "wave": row["wave"],
        "sent_at": _iso(row["sent_at"]), "settled_at": _iso(row["settled_at"]),
    }  # fmt: skip


def _iso(at: float | None) -> str | None:
    return None if at is None else iso_utc(int(at * 1e6))
