"""A million devices in one tenant, loaded in bulk, then listed: filter, search, sort, page.

Run: .venv/bin/python benchmarks/devices_million.py [DEVICES] [--keep DIR] [--plans] [--mirror]

A fresh data directory in a temporary folder, one tenant. DEVICES
(1,000,000) devices are written straight into SQLite in transactions of 100,000 rows, as
a bulk loader does (control/storage/bulk.py: the audit's insert triggers stand aside),
with the indexes and the line-count trigger of the schema at work: the models of the
catalog in turn, each vendor's OUI before a scattered 24-bit suffix, names from a short
list of rooms with a number, creation dates over two years, 60% with a line (an extension
of its own, one in a hundred of them with an account), and fetch
copies (control/fetchmirror.py) as the mirror leaves them: 90% fetched in the last 30 days
with a count below 500. Timed: the load.

Then each query of :data:`QUERIES` is run 21 times through ``Control.list_devices`` (what
``GET /api/v1/devices`` calls: the total, a page of 50 and its views, lines and keys and
the edge state read for the page), the first page and, from its cursor, the second;
printed: the median and the slowest, and the total. ``--plans`` prints SQLite's plan of
each page and count. ``--mirror`` also writes a fetch record for every device into the
edge state (as the edge's writer commits them) and times control/fetchmirror.py: the
full refresh that copies them all, then an incremental one after 1% of the phones fetched
again. ``--keep DIR`` loads into DIR and keeps it; run again with the same DIR, it only
lists (and, with ``--mirror``, refreshes).
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from control import devicelist
from control.api.schemas import TenantIn
from control.domain.catalog import MODELS
from control.service import Control
from control.storage import audit, bulk
from control.wiring import build_control
from edge.state.writer import commit
from provedge.formats import edgestate
from provedge.formats.edgestate import Fetch

EDGE = "http://edge.example:8080"
CHUNK = 100_000
PAGE = 50
ROOMS = ["Reception", "Office", "Lab", "Warehouse", "Conference", "Desk", "Kitchen", "Lobby",
         "Store", "Workshop"]  # fmt: skip
OUIS = {"yealink": "001565", "polycom": "0004f2", "cisco": "00b0d0", "grandstream": "000b82",
        "snom": "000413", "fanvil": "0c383e"}  # fmt: skip
DAY_US = 86_400_000_000
NOW_US = 1_780_000_000_000_000
# (label, tenant or None for all tenants, list_devices keyword arguments)
QUERIES: list[tuple[str, bool, dict[str, Any]]] = [
    ("all, by MAC", True, {}),
    ("assigned, by name", True, {"which": "assigned", "sort": "name"}),
    ("unassigned, by provision_count desc", True,
     {"which": "unassigned", "sort": "provision_count", "order": "desc"}),
    ("all, by last_fetch_at desc", True, {"sort": "last_fetch_at", "order": "desc"}),
    ("q=00:15:65:1a (MAC prefix), by MAC", True, {"q": "00:15:65:1a"}),
    ("q=00-15-65 (an OUI: 1 in 6), by name", True, {"q": "00-15-65", "sort": "name"}),
    ("q=0015.651a.b (MAC prefix), by created_at", True, {"q": "0015.651a.b", "sort": "created_at"}),
    ("q=recep (name prefix), by name", True, {"q": "recep", "sort": "name"}),
    ("q=Lab 12 (name prefix), by MAC", True, {"q": "Lab 12"}),
    ("q=t54w (model), by last_fetch_at desc", True,
     {"q": "t54w", "sort": "last_fetch_at", "order": "desc"}),
    ("q=yealink (4 models), assigned, by MAC", True, {"q": "yealink", "which": "assigned"}),
    ("every tenant, by created_at desc", False, {"sort": "created_at", "order": "desc"}),
    ("every tenant, q=office, by name", False, {"q": "office", "sort": "name"}),
]  # fmt: skip


def rows(count: int, start: int) -> list[tuple[Any, ...]]:
    models = sorted(MODELS)
    chance = random.Random(start)
    made = []
    for n in range(start, min(start + CHUNK, count)):
        model = models[n % len(models)]
        oui = OUIS.get(MODELS[model].vendor.id, "00a0c8")
        suffix = (n * 2_654_435_761) % (1 << 24)  # a bijection on 24 bits: scattered, unique
        created = NOW_US - chance.randrange(730 * DAY_US)
        fetched = 0 if chance.random() < 0.1 else NOW_US - chance.randrange(30 * DAY_US)
        made.append((
            f"{oui}{suffix:06x}", model, f"{ROOMS[n % len(ROOMS)]} {n // len(ROOMS)}", "x" * 16,
            time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(created / 1e6)), fetched,
            chance.randrange(500) if fetched else 0,
        ))  # fmt: skip
    return made


def load(ctl: Control, count: int) -> None:
    tenant = int(ctl.create_tenant(TenantIn(name="m", realm="m.example", sip_server="pbx.m"))["id"])
    started = time.perf_counter()
    for start in range(0, count, CHUNK):
        made = rows(count, start)
        assigned = [(r[0], start + i) for i, r in enumerate(made) if (start + i) % 5 < 3]
        with audit.inserting_in_bulk(), ctl.db.transaction() as conn:
            conn.executemany(
                "INSERT INTO devices (mac, tenant_id, model, name, admin_password, created_at,"
                f" last_fetch_us, provision_count) VALUES (?, {tenant}, ?, ?, ?, ?, ?, ?)",
                made,
            )
            # each assigned device its own extension; one in a hundred with an account
            conn.executemany(
                f"INSERT INTO extensions (id, tenant_id, number) VALUES (?, {tenant}, ?)",
                [(n + 1, str(1_000_000 + n)) for _, n in assigned],
            )
            conn.executemany(
                "INSERT INTO device_lines (mac, position, extension_id) VALUES (?, 1, ?)",
                [(mac, n + 1) for mac, n in assigned],
            )
            with_account = [n for _, n in assigned if n % 100 == 0]
            conn.executemany(
                "INSERT INTO accounts (id, tenant_id, username, password, realm)"
                f" VALUES (?, {tenant}, ?, 'secret-password', 'm.example')",
                [(n + 1, f"u{n}") for n in with_account],
            )
            conn.executemany(
                "INSERT INTO extension_accounts (extension_id, account_id, position)"
                " VALUES (?, ?, 1)",
                [(n + 1, n + 1) for n in with_account],
            )
        print(f"  {start + len(made):,} devices, {time.perf_counter() - started:.1f} s",
              file=sys.stderr)  # fmt: skip
    loaded = time.perf_counter() - started
    print(f"{count:,} devices loaded in {loaded:.1f} s ({count / loaded:,.0f}/s)")


def timed(ctl: Control, tenant: int | None, kwargs: dict[str, Any]) -> tuple[list[float], Any]:
    times: list[float] = []
    page: dict[str, Any] = {}
    for _ in range(21):
        t0 = time.perf_counter()
        page = ctl.list_devices(tenant, limit=PAGE, **kwargs)
        times.append(time.perf_counter() - t0)
    return times, page


def plan(ctl: Control, tenant: int | None, kwargs: dict[str, Any]) -> str:
    which, q = kwargs.get("which", "all"), kwargs.get("q", "")
    sort, order = kwargs.get("sort", "mac"), kwargs.get("order", "asc")
    counted = devicelist.count(tenant, which, q)
    with ctl.db.read() as conn:
        counts = list(conn.execute(counted.text, counted.params).fetchone())
        found = devicelist.page(
            "SELECT d.* FROM devices d", tenant, which, q, sort, order, None, counts, PAGE + 1
        )
        steps = [
            "; ".join(r[3] for r in conn.execute(f"EXPLAIN QUERY PLAN {text}", params))
            for text, params in ((counted.text, counted.params), (found.text, found.params))
        ]
    return "    count: " + steps[0] + "\n    page:  " + steps[1]


def listing(ctl: Control, plans: bool) -> None:
    tenant = int(ctl.get_tenant("m")["id"])
    medians = []
    for label, scoped, kwargs in QUERIES:
        where = tenant if scoped else None
        first, page = timed(ctl, where, kwargs)
        second, _ = timed(ctl, where, {**kwargs, "cursor": page["next_cursor"]})
        assert len(page["items"]) == min(PAGE, page["total"])
        medians += [statistics.median(first), statistics.median(second)]
        print(f"  {label}: median {statistics.median(first) * 1000:.1f} ms"
              f" (page 2: {statistics.median(second) * 1000:.1f} ms),"
              f" slowest {max(first + second) * 1000:.1f} ms, total {page['total']:,}")  # fmt: skip
        if plans:
            print(plan(ctl, where, kwargs))
    print(f"median of the medians: {statistics.median(medians) * 1000:.1f} ms,"
          f" slowest median {max(medians) * 1000:.1f} ms")  # fmt: skip


def _commit(ctl: Control, data: Path, fetches: dict[bytes, Fetch]) -> None:
    """As the edge's writer commits fetches; LMDB wants one handle on an environment per
    process, so the control plane's reader lets go first."""
    ctl.edge_state.close()
    env = edgestate.open_env(data)
    commit(env, fetches)
    env.close()


def mirror(ctl: Control, data: Path) -> None:
    macs = [r["mac"] for r in ctl.db.query("SELECT mac FROM devices ORDER BY mac")]
    for start in range(0, len(macs), CHUNK):
        _commit(ctl, data, {
            mac.encode(): Fetch(n % 500 + 1, NOW_US - (n * 7_919) % (30 * DAY_US), bytes(16), b"x")
            for n, mac in enumerate(macs[start : start + CHUNK], start)
        })  # fmt: skip
    started = time.perf_counter()
    changed = ctl.fetch_mirror.refresh(full=True)
    print(f"fetch copies: a full refresh of {len(macs):,} records in"
          f" {time.perf_counter() - started:.1f} s ({changed:,} changed)")  # fmt: skip
    again = {mac.encode(): Fetch(1, NOW_US + DAY_US, bytes(16), b"y") for mac in macs[::100]}
    _commit(ctl, data, again)
    started = time.perf_counter()
    changed = ctl.fetch_mirror.refresh()
    print(f"  then {len(again):,} phones fetched again: refreshed in"
          f" {time.perf_counter() - started:.1f} s ({changed:,} changed)")  # fmt: skip


def main(count: int, keep: str | None, plans: bool, with_mirror: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(keep or tmp)
        made_before = (data / "provedge.sqlite3").exists()
        ctl = build_control(data, EDGE)
        if not made_before:
            load(ctl, count)
            with ctl.db.transaction() as conn:  # as an import does when the table doubled
                bulk.refresh_statistics(conn, "devices")
        listing(ctl, plans)
        if with_mirror:
            mirror(ctl, data)
        ctl.close()


if __name__ == "__main__":
    argv = sys.argv[1:]
    kept = argv[argv.index("--keep") + 1] if "--keep" in argv else None
    args = [a for a in argv if not a.startswith("--") and a != kept]
    main(int(args[0]) if args else 1_000_000, kept, "--plans" in argv, "--mirror" in argv)
