"""``provedge registrations --tenant T``: the registrar's registered clients from the shell.

Reads the data directory directly (SQLite for the tenant and accounts, the edge state
read-only for the bindings), through the same listing as ``GET /api/v1/registrations``
(control/registrations.py). Exit 0, or 2 for a bad argument (an unknown tenant, account or
MAC).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from provedge.jobs_cli import _database

COLUMNS = ("account", "contact", "source", "port", "transport", "user_agent", "registered_at",
           "expires_at")  # fmt: skip


def cmd_registrations(args: argparse.Namespace) -> int:
    from control import registrations
    from control.domain.errors import ServiceError
    from control.storage.edgestate import EdgeStateReader
    from provedge.formats.macaddr import InvalidMac, normalize_mac

    try:
        mac = None if args.mac is None else normalize_mac(args.mac)
    except InvalidMac:
        print(f"provedge registrations: --mac: not a MAC address: {args.mac!r}", file=sys.stderr)
        return 2
    db, edge = _database(args.data), EdgeStateReader(args.data)
    tenant = int(args.tenant) if args.tenant.isdigit() else args.tenant
    shown, cursor = 0, None
    print("\t".join(COLUMNS))
    try:
        while True:
            with db.read() as conn:
                page: dict[str, Any] = registrations.page(
                    conn, edge, tenant, None, args.account, mac, 1000, cursor
                )
            for item in page["items"]:
                print("\t".join(str(item[name]) for name in COLUMNS))
            shown += len(page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
    except ServiceError as exc:
        for field, reason in exc.errors.items():
            print(f"provedge registrations: {field}: {reason}", file=sys.stderr)
        return 2
    finally:
        edge.close()
    print(f"{shown} registered", file=sys.stderr)
    return 0


def add_commands(sub: Any, data_arg: Any) -> None:
    parser = sub.add_parser(
        "registrations", help="registered SIP clients of a tenant (the registrar's bindings)"
    )
    data_arg(parser)
    parser.add_argument("--tenant", required=True, help="tenant id or name")
    parser.add_argument("--account", help="only this username's")
    parser.add_argument("--mac", help="only the accounts on this device's lines")
    parser.set_defaults(func=cmd_registrations)
