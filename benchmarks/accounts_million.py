"""A million SIP device accounts in one tenant, made through the batch path, then searched.

Run: .venv/bin/python benchmarks/accounts_million.py [ACCOUNTS] [--publish] [--keep DIR]

A fresh data directory in a temporary folder, one tenant. ACCOUNTS (1,000,000) accounts
are made by pattern batches of 10,000 (usernames ``000000``..``999999``), each batch with
its own owner, e-mail domain and description from short lists, as an operator's batches
would have; timed: the batches (checks, one SQLite transaction each, the FTS and B-tree
index triggers). ``--publish`` also times the ``recompile`` job that writes every
registrar record (HA1s) into LMDB.

Then each of the issue's four queries is run 21 times through ``Control.list_accounts``
(the API's search: luqum parse, SQL over FTS5 and indexes, the first 50 rows and the
total); printed: the median and the slowest, and the total each found. ``--keep DIR``
makes the accounts in DIR and keeps them; run again with the same DIR, it only searches.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from control.api.schemas import AccountBatchIn, TenantIn
from control.service import Control
from control.wiring import build_control

EDGE = "http://edge.example:8080"
BATCH = 10_000
OWNERS = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy",
          "mallory", "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter",
          "alicia"]  # fmt: skip
DOMAINS = ["example.org", "example.com", "corp.example.net", "mail.example.org"]
DESCRIPTIONS = ["lab phone", "front desk", "warehouse phone", "lab bench", "reception",
                "conference room", "phone lab test"]  # fmt: skip
QUERIES = [
    "owner:alice*",
    "username:[100000 TO 100999]",
    'description:"lab phone" AND NOT email:*example.org',
    "warehouse",
]


def main(count: int, publish: bool, keep: str | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(keep or tmp)
        made_before = (data / "provedge.sqlite3").exists()
        ctl = build_control(data, EDGE)
        if made_before:
            search(ctl, ctl.get_tenant("m"))
            ctl.close()
            return
        tenant = ctl.create_tenant(TenantIn(name="m", realm="m.example", sip_server="pbx.m"))
        started = time.perf_counter()
        for batch, start in enumerate(range(0, count, BATCH)):
            owner = OWNERS[batch % len(OWNERS)]
            body = AccountBatchIn(
                tenant=tenant["id"],
                count=min(BATCH, count - start),
                username_pattern="{n:06}",
                start=start,
                owner=f"{owner.title()} {batch}",
                email=f"{owner}{batch}@{DOMAINS[batch % len(DOMAINS)]}",
                description=DESCRIPTIONS[batch % len(DESCRIPTIONS)],
                caller_id_name=owner.title(),
            )
            made = ctl.create_accounts(body)
            assert made["count"] == body.count, made
            if (batch + 1) % 10 == 0:
                print(f"  {start + body.count:,} accounts, {time.perf_counter() - started:.1f} s",
                      file=sys.stderr)  # fmt: skip
        created = time.perf_counter() - started
        print(f"{count:,} accounts made by batches of {BATCH:,} in {created:.1f} s"
              f" ({count / created:,.0f}/s)")  # fmt: skip
        if publish:
            started = time.perf_counter()
            ctl.jobs.run_until_idle()
            print(
                f"  their registrar records published (jobs) in {time.perf_counter() - started:.1f} s"
            )
        search(ctl, tenant)
        ctl.close()


def search(ctl: Control, tenant: dict[str, Any]) -> None:
    for query in QUERIES:
        times, total = [], 0
        for _ in range(21):
            t0 = time.perf_counter()
            page = ctl.list_accounts(tenant["id"], q=query, limit=50)
            times.append(time.perf_counter() - t0)
            total = page["total"]
            assert len(page["items"]) == min(50, total)
        print(
            f"  {query!r}: median {statistics.median(times) * 1000:.1f} ms,"
            f" slowest {max(times) * 1000:.1f} ms, total {total:,}"
        )


if __name__ == "__main__":
    argv = sys.argv[1:]
    kept = argv[argv.index("--keep") + 1] if "--keep" in argv else None
    args = [a for a in argv if not a.startswith("--") and a != kept]
    main(int(args[0]) if args else 1_000_000, "--publish" in argv, kept)
