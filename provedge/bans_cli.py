"""``provedge bans list|add|lift``: the firewall's bans from the shell.

They work on a data directory directly, through the same operations as the API
(control/firewall.py): ``list`` reads the edge state read-only and SQLite; ``add`` and
``lift`` write SQLite and publish to LMDB, which the running edge follows within a
second. Exit 0 on success, 1 when there was no such ban to lift, 2 for a bad argument.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from provedge.jobs_cli import _database, command_group


def _firewall(data: str) -> Any:
    from control.firewall import Firewall
    from control.publish.publisher import LmdbPublisher
    from control.storage.edgestate import EdgeStateReader
    from provedge.formats import store

    return Firewall(_database(data), LmdbPublisher(store.open_env(data)), EdgeStateReader(data))


def _refused(exc: Any) -> int:
    for field, reason in exc.errors.items():
        print(f"provedge bans: {field}: {reason}", file=sys.stderr)
    return 1 if exc.status == 404 else 2


def cmd_list(args: argparse.Namespace) -> int:
    rows = _firewall(args.data).list()
    for ban in rows:
        print(f"{ban['address']}\t{ban['reason']}\t{ban['failures']}\t{ban['banned_at']}"
              f"\t{ban['until']}")  # fmt: skip
    if not rows:
        print("no bans", file=sys.stderr)
    return 0


def cmd_add(args: argparse.Namespace) -> int:
    from control.domain.errors import ServiceError

    try:
        ban = _firewall(args.data).add(args.address, args.seconds)
    except ServiceError as exc:
        return _refused(exc)
    print(f"{ban['address']} banned until {ban['until']}")
    return 0


def cmd_lift(args: argparse.Namespace) -> int:
    from control.domain.errors import ServiceError

    try:
        _firewall(args.data).lift(args.address)
    except ServiceError as exc:
        return _refused(exc)
    print(f"{args.address}: ban lifted")
    return 0


def add_commands(sub: Any, data_arg: Any) -> None:
    bans_sub = command_group(sub, "bans", "list, add and lift firewall bans (SIP and HTTP)")
    listing = bans_sub.add_parser("list", help="address, reason, failures, banned at, until")
    data_arg(listing)
    listing.set_defaults(func=cmd_list)
    adding = bans_sub.add_parser("add", help="ban an address by hand")
    data_arg(adding)
    adding.add_argument("address")
    adding.add_argument("--seconds", type=int, help="how long (default: the ban period)")
    adding.set_defaults(func=cmd_add)
    lifting = bans_sub.add_parser("lift", help="lift the bans of an address")
    data_arg(lifting)
    lifting.add_argument("address")
    lifting.set_defaults(func=cmd_lift)
