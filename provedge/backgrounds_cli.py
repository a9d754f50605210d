"""``provedge backgrounds upload|list|delete``: a tenant's background images from the shell.

They work on the SQLite of a data directory directly, through the same functions as the
API (control/backgrounds.py; the upload is checked by Pillow the same way), and queue a
``recompile`` job for the tenant: the running control plane's job publishes the scaled
files (or withdraws them), and ``upload`` follows it with a progress bar unless
``--no-watch``. Exit 0 on success, 1 when the job failed or a delete was refused (devices
show the background; ``--force`` clears them), 2 for a bad argument or a bad image.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from provedge.jobs_cli import _database, command_group, watch

# The content type an upload is sent as, by its file name (the API's is the header's).
_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}


def _fail(message: str, code: int = 2) -> int:
    print(f"provedge backgrounds: {message}", file=sys.stderr)
    return code


def _refused(exc: Any) -> int:
    for field, reason in exc.errors.items():
        print(f"provedge backgrounds: {field}: {reason}", file=sys.stderr)
    return 1 if exc.status == 409 and "devices" in exc.errors else 2


def cmd_upload(args: argparse.Namespace) -> int:
    from control import backgrounds
    from control.domain.errors import ServiceError
    from control.domain.refs import parse_ref
    from control.jobs import store
    from control.jobs.kinds import RECOMPILE
    from control.service import find_tenant

    path = Path(args.file)
    content_type = _TYPES.get(path.suffix.lower())
    if content_type is None:
        return _fail(f"{args.file!r}: a .png, .jpg or .jpeg file")
    if not path.is_file():
        return _fail(f"no file {args.file!r}")
    if args.name is not None:
        from control.domain.refs import check_text

        try:
            check_text(args.name)
        except ValueError as exc:
            return _fail(f"--name: {exc}")
        if not 1 <= len(args.name) <= 128:
            return _fail("--name: 1 to 128 characters")
    data = path.read_bytes()
    db = _database(args.data)
    try:
        size = backgrounds.checked(data, content_type)
        with db.transaction() as conn:
            tenant_id = int(find_tenant(conn, parse_ref(args.tenant))["id"])
            background_id = backgrounds.insert(conn, tenant_id, args.name, data, content_type, size)
            job_id = store.enqueue(conn, RECOMPILE, tenant_id)
    except ServiceError as exc:
        return _refused(exc)
    print(f"background {background_id}: {size[0]}x{size[1]} {content_type}")
    print(f"job {job_id} queued (recompile: publishes its scaled files)")
    return watch(db, job_id, args.timeout) if args.watch else 0


def cmd_list(args: argparse.Namespace) -> int:
    from control import backgrounds
    from control.domain.errors import ServiceError
    from control.domain.refs import parse_ref
    from control.service import find_tenant

    db = _database(args.data)
    try:
        with db.read() as conn:
            tenant_id = int(find_tenant(conn, parse_ref(args.tenant))["id"])
            rows = backgrounds.rows(conn, tenant_id)
    except ServiceError as exc:
        return _refused(exc)
    for row in rows:
        print(f"{row['id']}\t{row['name']}\t{row['width']}x{row['height']}"
              f"\t{row['content_type']}\t{row['devices']} device(s)")  # fmt: skip
    if not rows:
        print("no backgrounds", file=sys.stderr)
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    from control import backgrounds
    from control.domain.errors import ServiceError
    from control.jobs import store
    from control.jobs.kinds import RECOMPILE

    db = _database(args.data)
    try:
        with db.transaction() as conn:
            found = backgrounds.row(conn, args.id, None)
            macs = backgrounds.delete(conn, found, args.force)
            job_id = store.enqueue(conn, RECOMPILE, int(found["tenant_id"]))
    except ServiceError as exc:
        return _refused(exc)
    print(f"background {args.id} deleted ({len(macs)} device(s) cleared)")
    print(f"job {job_id} queued (recompile: withdraws its files)")
    return 0


def add_commands(sub: Any, data_arg: Any) -> None:
    group = command_group(sub, "backgrounds", "upload, list and delete background images")
    upload = group.add_parser("upload", help="upload a PNG or JPEG for a tenant's phones")
    data_arg(upload)
    upload.add_argument("file", help="a .png, .jpg or .jpeg file")
    upload.add_argument("--tenant", required=True, help="tenant id or name")
    upload.add_argument("--name", help="what to call it (default: from its hash)")
    upload.add_argument("--no-watch", dest="watch", action="store_false",
                        help="queue the publishing job and return")  # fmt: skip
    upload.add_argument("--timeout", type=float, help="stop watching after S seconds")
    upload.set_defaults(func=cmd_upload)
    listing = group.add_parser("list", help="id, name, size, type, devices showing it")
    data_arg(listing)
    listing.add_argument("--tenant", required=True, help="tenant id or name")
    listing.set_defaults(func=cmd_list)
    deleting = group.add_parser("delete", help="delete one (refused while devices show it)")
    data_arg(deleting)
    deleting.add_argument("id", type=int, help="the background's id (from list)")
    deleting.add_argument("--force", action="store_true", help="clear it from its devices")
    deleting.set_defaults(func=cmd_delete)
