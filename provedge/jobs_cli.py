"""``provedge jobs list|watch|cancel`` and ``provedge recompile``: jobs from the shell.

They read and write the ``jobs`` table of a data directory directly (SQLite in WAL mode
takes a second process fine); the control plane's runner runs what they queue. ``watch``
draws a tqdm progress bar on stderr until the job ends: exit 0 when it is done, 1 when it
failed or was cancelled, 2 for a bad argument.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

POLL_SECONDS = 0.2
QUEUED_NOTE_AFTER = 5.0  # seconds queued before saying that a control plane runs jobs


def _database(data: str) -> Any:
    from control.storage.db import DB_FILE, Database

    if not (Path(data) / DB_FILE).exists():
        print(f"provedge: no provedge data in {data!r}", file=sys.stderr)
        raise SystemExit(2)
    return Database(data)


def _job(db: Any, job_id: int) -> dict[str, Any]:
    from control.jobs import store

    row = store.get(db, job_id)
    if row is None:
        print(f"provedge: no job {job_id}", file=sys.stderr)
        raise SystemExit(2)
    return store.view(row)


def watch(db: Any, job_id: int, timeout: float | None = None) -> int:
    from tqdm import tqdm

    job = _job(db, job_id)
    started = time.monotonic()
    noted = False
    with tqdm(total=job["total"] or None, unit="item", desc=f"job {job_id} {job['kind']}") as bar:
        while True:
            bar.total = job["total"] or bar.total
            bar.n = job["done"]
            bar.set_postfix_str(_postfix(db, job), refresh=False)
            bar.refresh()
            if job["state"] not in ("queued", "running"):
                break
            waited = time.monotonic() - started
            if job["state"] == "queued" and waited > QUEUED_NOTE_AFTER and not noted:
                bar.write("queued: a running control plane (provedge run / control) runs it")
                noted = True
            if timeout is not None and waited > timeout:
                bar.write(f"still {job['state']} after {timeout:g}s; it goes on without us")
                return 1
            time.sleep(POLL_SECONDS)
            job = _job(db, job_id)
    for error in job["errors"]:
        print(f"error: {error['item']}: {error['error']}", file=sys.stderr)
    print(
        f"job {job_id}: {job['state']}, {job['done']}/{job['total']}, {job['error_count']} errors"
    )
    return 0 if job["state"] == "done" else 1


def _postfix(db: Any, job: dict[str, Any]) -> str:
    """The job's state, and for a reboot its live counts (sent, accepted, rebooted, ...)."""
    if job["kind"] != "reboot":
        return str(job["state"])
    from control.reboots import counts

    live = counts(db, job["id"])
    return f"{job['state']} " + " ".join(f"{state}={n}" for state, n in sorted(live.items()))


def cmd_list(args: argparse.Namespace) -> int:
    from control.jobs import store

    db = _database(args.data)
    if args.state is not None and args.state not in store.STATES:
        print(f"provedge: --state must be one of {', '.join(store.STATES)}", file=sys.stderr)
        return 2
    for row in store.listing(db, args.state, None):
        job = store.view(row)
        print(f"{job['id']}\t{job['kind']}\t{job['state']}\t{job['done']}/{job['total']}"
              f"\t{job['created_at']}")  # fmt: skip
    return 0


def cmd_watch(args: argparse.Namespace) -> int:
    return watch(_database(args.data), args.id, args.timeout)


def cmd_cancel(args: argparse.Namespace) -> int:
    from control.jobs import store

    db = _database(args.data)
    _job(db, args.id)
    store.request_cancel(db, args.id)
    print(f"job {args.id}: {_job(db, args.id)['state']} (a running job stops after its step)")
    return 0


def cmd_recompile(args: argparse.Namespace) -> int:
    """Mark every device (of one tenant) ahead of LMDB and queue the recompile job."""
    from control.domain.errors import ServiceError
    from control.domain.refs import parse_ref
    from control.jobs import store
    from control.jobs.kinds import RECOMPILE
    from control.service import find_tenant

    db = _database(args.data)
    with db.transaction() as conn:
        tenant_id = None
        if args.tenant is not None:
            try:
                tenant_id = int(find_tenant(conn, parse_ref(args.tenant))["id"])
            except ServiceError:
                print(f"provedge: no tenant {args.tenant!r}", file=sys.stderr)
                return 2
        conn.execute(
            "UPDATE devices SET rev = rev + 1 WHERE ? IS NULL OR tenant_id = ?",
            (tenant_id, tenant_id),
        )
        job_id = store.enqueue(conn, RECOMPILE, tenant_id)
    print(f"job {job_id} queued")
    return watch(db, job_id, args.timeout) if args.watch else 0


def command_group(sub: Any, name: str, help: str) -> Any:
    """A command of actions (``provedge NAME ACTION``): the parsers of its actions."""
    group = sub.add_parser(name, help=help)
    return group.add_subparsers(dest=f"{name}_command", required=True, metavar="ACTION")


def import_refused(status: int, errors: dict[str, str], tenant: str) -> int:
    """An import refused: 2 for an unknown tenant, else 1 with each bad row on stderr."""
    if status == 404:
        print(f"provedge: no tenant {tenant!r}", file=sys.stderr)
        return 2
    for where, reason in errors.items():
        print(f"{where}: {reason}", file=sys.stderr)
    print(f"nothing imported: {len(errors)} problem(s)", file=sys.stderr)
    return 1


def import_parser(group: Any, data_arg: Any, help: str, dry_run: str) -> Any:
    """An ``import FILE --tenant T [--dry-run] [--no-watch] [--timeout S]`` action: a file
    checked and written whole, then a job the control plane runs, watched."""
    importing = group.add_parser("import", help=help)
    data_arg(importing)
    importing.add_argument("file", help="the CSV file")
    importing.add_argument("--tenant", required=True, help="tenant id or name")
    importing.add_argument("--dry-run", action="store_true", help=dry_run)
    importing.add_argument("--no-watch", dest="watch", action="store_false",
                           help="queue the publishing job and return")  # fmt: skip
    importing.add_argument("--timeout", type=float, help="stop watching after SECONDS")
    return importing


def add_commands(sub: Any, data_arg: Any) -> None:
    jobs_sub = command_group(sub, "jobs", "list, watch and cancel long-running jobs")
    listing = jobs_sub.add_parser("list", help="the latest jobs, newest first")
    data_arg(listing)
    listing.add_argument("--state", help="only jobs in this state")
    listing.set_defaults(func=cmd_list)
    for name, func, text in (
        ("watch", cmd_watch, "a progress bar until the job ends (exit 0 when done)"),
        ("cancel", cmd_cancel, "cancel a queued job, or a running one after its step"),
    ):
        action = jobs_sub.add_parser(name, help=text)
        data_arg(action)
        action.add_argument("id", type=int, help="job id")
        if name == "watch":
            action.add_argument("--timeout", type=float, help="stop watching after SECONDS")
        action.set_defaults(func=func)
    recompile = sub.add_parser("recompile", help="recompile and republish every phone (a job)")
    data_arg(recompile)
    recompile.add_argument("--tenant", help="only this tenant's phones (id or name)")
    recompile.add_argument("--no-watch", dest="watch", action="store_false",
                           help="queue the job and return")  # fmt: skip
    recompile.add_argument("--timeout", type=float, help="stop watching after SECONDS")
    recompile.set_defaults(func=cmd_recompile)
