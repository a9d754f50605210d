"""``provedge loadtest seed``: a synthetic fleet for load tests (control/seed.py).

It writes N phones of a new tenant into the data directory in one SQLite transaction and
queues the ``recompile`` job that publishes them; a running control plane (``provedge
run`` / ``control``) runs it, or ``--publish`` runs it here before returning. The phone
list (CSV: MAC, model, vendor, User-Agent, boot files, SIP account, password,
provisioning URL, SIP server) is what loadtest/locustfile.py, the storm driver and the
REGISTER driver (loadtest/register.py) read.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from typing import Any


def cmd_seed(args: argparse.Namespace) -> int:
    from control.domain.errors import ServiceError
    from control.seed import FIELDS, seed
    from control.storage.db import Database

    started = time.perf_counter()
    db = Database(args.data)
    try:
        phones = seed(db, args.tenant, args.phones, args.edge_url)
    except ServiceError as exc:
        print(f"provedge loadtest seed: {exc.errors}", file=sys.stderr)
        return 2
    finally:
        db.close()
    with open(args.out, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(FIELDS)
        writer.writerows(phone.row() for phone in phones)
    seconds = time.perf_counter() - started
    print(f"seeded {len(phones)} phones of tenant {args.tenant!r} in {seconds:.2f}s -> {args.out}")
    if args.publish:
        return publish(args.data, args.edge_url)
    return 0


def publish(data: str, edge_url: str) -> int:
    """Run the queued jobs here (no control plane running), then report."""
    from control.wiring import build_control

    started = time.perf_counter()
    ctl = build_control(data, edge_url)
    ctl.jobs.run_until_idle()
    ctl.close()
    print(f"published in {time.perf_counter() - started:.2f}s")
    return 0


def add_commands(sub: Any, settings: Any) -> None:
    loadtest = sub.add_parser("loadtest", help="load-test helpers (a synthetic fleet)")
    loadtest_sub = loadtest.add_subparsers(dest="loadtest_command", required=True, metavar="ACTION")
    seed = loadtest_sub.add_parser(
        "seed", help="add N synthetic phones of a new tenant and queue their publication"
    )
    settings(seed)
    seed.add_argument("--phones", type=int, required=True, help="how many phones")
    seed.add_argument("--tenant", required=True, help="name of the new tenant")
    seed.add_argument("--out", default="phones.csv", help="phone list (CSV) [phones.csv]")
    seed.add_argument("--publish", action="store_true",
                      help="run the publish job here (when no control plane runs)")  # fmt: skip
    seed.set_defaults(func=cmd_seed)
