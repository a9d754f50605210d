"""``provedge devices import|export``: the fleet from the shell, as CSV files.

They work on the SQLite of a data directory directly, through the same service functions
as the API (``control.service.import_devices`` and ``export_devices``), as
provedge/jobs_cli.py does. An import checks every row first (a tqdm bar on stderr), writes
them all in one transaction and queues a ``recompile`` job that the running control plane
runs; its progress bar follows until the job ends. Exit 0 on success, 1 when rows were
refused (each bad row, column and reason on stderr) or the job failed, 2 for a bad argument.
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


def cmd_import(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from control.domain.devicecsv import read_rows
    from control.domain.errors import ServiceError
    from control.domain.refs import parse_ref
    from control.service import import_devices

    path = Path(args.file)
    if not path.is_file():
        return _fail(f"no file {args.file!r}")
    db = _database(args.data)
    try:
        rows = read_rows(path.read_text(encoding="utf-8"))

        def advance(rows_checked: int) -> None:
            bar.update(rows_checked)

        with tqdm(
            total=len(rows), unit="row", desc="checking" if args.dry_run else "importing"
        ) as bar:
            answer, _, job_id = import_devices(
                db,
                parse_ref(args.tenant),
                rows,
                dry_run=args.dry_run,
                always_job=True,
                progress=advance,
            )
            bar.n = len(rows)
            bar.refresh()
    except ServiceError as exc:
        return import_refused(exc.status, exc.errors, args.tenant)
    except UnicodeDecodeError:
        return _fail(f"{args.file!r} is not UTF-8 text")
    verb = "would be" if args.dry_run else "were"
    print(
        f"{answer['rows']} rows: {answer['created']} {verb} created, {answer['changed']}"
        f" changed, {answer['unchanged']} left alone"
    )
    if job_id is None:
        return 0
    print(f"job {job_id} queued (recompile)")
    return watch(db, job_id, args.timeout) if args.watch else 0


def cmd_export(args: argparse.Namespace) -> int:
    from control.domain.errors import ServiceError
    from control.domain.refs import parse_ref
    from control.service import export_devices

    db = _database(args.data)
    try:
        text = export_devices(db, parse_ref(args.tenant), args.filter)
    except ServiceError:
        return _fail(f"no tenant {args.tenant!r}")
    if args.output in (None, "-"):
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text, encoding="utf-8")
    return 0


def add_commands(sub: Any, data_arg: Any) -> None:
    devices_sub = command_group(sub, "devices", "import and export devices as CSV")
    importing = import_parser(
        devices_sub,
        data_arg,
        "import a CSV file (mac, model, name, line1..line6), all or nothing",
        "check and report what would change; write nothing",
    )
    importing.set_defaults(func=cmd_import)
    exporting = devices_sub.add_parser("export", help="write a tenant's devices as CSV")
    data_arg(exporting)
    exporting.add_argument("--tenant", required=True, help="tenant id or name")
    exporting.add_argument("--filter", default="all", choices=["all", "assigned", "unassigned"])
    exporting.add_argument("-o", "--output", help="file to write (default: standard output)")
    exporting.set_defaults(func=cmd_export)
