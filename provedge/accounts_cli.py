"""``provedge accounts import|export``: SIP device accounts from the shell, as CSV files.

They work on the SQLite of a data directory directly, through the same functions as the
API's CSV batch (control/accountbatch.py) and export. An import checks every row (a tqdm
bar on stderr), writes them all in one transaction and queues a ``recompile`` job that the
running control plane runs to publish their registrar records; its bar follows until the
job ends. The accounts made, with their passwords, are written as CSV to ``--output``
(standard output by default): the one time they are shown. Exit 0 on success, 1 when rows
were refused (each bad row and field on stderr) or the job failed, 2 for a bad argument.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from provedge.jobs_cli import _database, command_group, import_parser, import_refused, watch


def _fail(message: str) -> int:
    print(f"provedge: {message}", file=sys.stderr)
    return 2


def _write(text: str, output: str | None) -> None:
    if output in (None, "-"):
        sys.stdout.write(text)
    else:
        Path(output).write_text(text, encoding="utf-8")


def cmd_import(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from control import accountbatch
    from control.api.schemas import MAX_BATCH
    from control.domain import accountcsv
    from control.domain.errors import ServiceError
    from control.domain.refs import parse_ref

    path = Path(args.file)
    if not path.is_file():
        return _fail(f"no file {args.file!r}")
    db = _database(args.data)
    tenant = parse_ref(args.tenant)
    try:
        bodies = [accountcsv.body_of(r) for r in accountcsv.read_rows(path.read_text("utf-8"))]
        if len(bodies) > MAX_BATCH:
            return _fail(f"{len(bodies)} rows; at most {MAX_BATCH} in one batch")
        with tqdm(total=len(bodies), unit="row", desc="checking") as bar:
            rows, errors = accountbatch.check_rows(bodies, tenant, bar.update)
        made = accountbatch.create(db, tenant, rows, errors, dry_run=args.dry_run, always_job=True)
    except ServiceError as exc:
        return import_refused(exc.status, exc.errors, args.tenant)
    except UnicodeDecodeError:
        return _fail(f"{args.file!r} is not UTF-8 text")
    if args.dry_run:
        print(f"{made.answer['count']} accounts would be created", file=sys.stderr)
        return 0
    _write(accountcsv.write_created(made.answer["items"]), args.output)
    print(f"{made.answer['count']} accounts created; job {made.job} queued (recompile)",
          file=sys.stderr)  # fmt: skip
    assert made.job is not None  # always_job
    return watch(db, made.job, args.timeout) if args.watch else 0


def cmd_export(args: argparse.Namespace) -> int:
    from control.domain.errors import ServiceError
    from control.domain.refs import parse_ref
    from control.service import export_accounts

    db = _database(args.data)
    try:
        text = export_accounts(db, parse_ref(args.tenant), args.query, args.sort, args.order)
    except ServiceError as exc:
        if exc.status == 404:
            return _fail(f"no tenant {args.tenant!r}")
        return _fail("; ".join(f"{k}: {v}" for k, v in exc.errors.items()))
    _write(text, args.output)
    return 0


def add_commands(sub: Any, data_arg: Any) -> None:
    accounts_sub = command_group(sub, "accounts", "import and export SIP device accounts as CSV")
    importing = import_parser(
        accounts_sub,
        data_arg,
        "create accounts from a CSV file (a header names the fields), all or nothing",
        "check every row and report; write nothing",
    )
    importing.add_argument("-o", "--output",
                           help="where the accounts made and their passwords go (default: stdout)")  # fmt: skip
    importing.set_defaults(func=cmd_import)
    exporting = accounts_sub.add_parser(
        "export", help="write a tenant's accounts (those a Lucene query matches) as CSV"
    )
    data_arg(exporting)
    exporting.add_argument("--tenant", required=True, help="tenant id or name")
    exporting.add_argument("--query", default="", help="Lucene query, as the API's `q`")
    exporting.add_argument("--sort", default="username", help="a field the API's list sorts by")
    exporting.add_argument("--order", default="asc", choices=["asc", "desc"])
    exporting.add_argument("-o", "--output", help="file to write (default: standard output)")
    exporting.set_defaults(func=cmd_export)
