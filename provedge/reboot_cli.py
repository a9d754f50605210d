"""``provedge reboot --tenant T [--mac M ...] --mode reboot --rate N``: a paced remote
reboot or re-sync from the shell.

It queues the same job as ``POST /api/v1/reboots`` (control/reboots.py), in the data
directory's SQLite, after asking for confirmation (``--yes`` skips it; without a terminal
it refuses rather than guess), then follows it with a progress bar whose postfix shows the
live counts (sent, accepted, rebooted, ...). The running control plane runs the job. Exit
0 when every phone rebooted (or re-synced), 1 when some did not, 2 for a bad argument.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from provedge.jobs_cli import _database, watch


def cmd_reboot(args: argparse.Namespace) -> int:
    from control import reboots
    from control.domain.errors import ServiceError
    from control.domain.refs import parse_ref
    from control.storage.tenants import find_tenant
    from provedge.formats.macaddr import InvalidMac, normalize_mac

    try:
        macs = [normalize_mac(mac) for mac in args.mac] or None
    except InvalidMac as exc:
        print(f"provedge reboot: --mac: not a MAC address: {exc}", file=sys.stderr)
        return 2
    if args.rate <= 0:
        print("provedge reboot: --rate must be above 0", file=sys.stderr)
        return 2
    db = _database(args.data)
    params = reboots.params(args.mode, args.rate, args.wave_size, None, args.confirm_s)
    try:
        with db.transaction() as conn:
            tenant_id = int(find_tenant(conn, parse_ref(args.tenant), "tenant")["id"])
            count = len(reboots.select_macs(conn, tenant_id, macs, args.filter))
            if not count:
                print("provedge reboot: no device to reboot", file=sys.stderr)
                return 2
            if not args.yes and not _confirmed(args.mode, count, args.tenant, args.rate):
                print("provedge reboot: not confirmed; nothing queued", file=sys.stderr)
                return 2
            job_id = reboots.queue(conn, tenant_id, macs, args.filter, params)
    except ServiceError as exc:
        for field, reason in exc.errors.items():
            print(f"provedge reboot: {field}: {reason}", file=sys.stderr)
        return 2
    print(f"job {job_id}: {args.mode} of {count} phone(s) at {args.rate:g}/s", file=sys.stderr)
    return watch(db, job_id, args.timeout)


def _confirmed(mode: str, count: int, tenant: str, rate: float) -> bool:
    if not sys.stdin.isatty():
        print("provedge reboot: no terminal to confirm on; pass --yes", file=sys.stderr)
        return False
    reply = input(f"{mode} {count} phone(s) of tenant {tenant} at {rate:g}/s? [y/N] ")
    return reply.strip().lower() in ("y", "yes")


def add_commands(sub: Any, data_arg: Any) -> None:
    parser = sub.add_parser(
        "reboot", help="reboot or re-sync phones through their SIP registration"
    )
    data_arg(parser)
    parser.add_argument("--tenant", required=True, help="tenant id or name")
    parser.add_argument("--mac", action="append", default=[], help="a device (repeat for more)")
    parser.add_argument("--filter", choices=("all", "assigned", "unassigned"), default="all",
                        help="the tenant's devices to take without --mac")  # fmt: skip
    parser.add_argument("--mode", choices=("resync", "reboot"), default="reboot")
    parser.add_argument("--rate", type=float, default=50.0, help="NOTIFYs per second")
    parser.add_argument("--wave-size", type=int, default=None, help="phones per wave")
    parser.add_argument("--confirm-s", type=float, default=300.0,
                        help="seconds a phone has to come back after its NOTIFY")  # fmt: skip
    parser.add_argument("--timeout", type=float, default=None,
                        help="stop following after this many seconds (the job goes on)")  # fmt: skip
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    parser.set_defaults(func=cmd_reboot)
