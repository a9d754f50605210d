"""``make loadtest``: a local provedge, a seeded fleet, one headless locust run, all stopped.

Steps, each with a deadline: start ``provedge run`` on free loopback ports with a fresh
data directory (the test suite's own helpers, tests/conftest.py, which wait for both
``/healthz``), seed ``--phones`` phones into it (``provedge loadtest seed``), wait for the
control plane's job runner to publish them (the ``recompile`` job the seed queued), run
locust headless on loadtest/locustfile.py with ``--csv`` and ``--html`` into the results
folder, stop the server. Exit status: locust's (1 when any request failed).

    .venv/bin/python -m loadtest.run --phones 1000 --shape storm
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.conftest import start_provedge, stop_provedge

RESULTS = Path(__file__).resolve().parent / "results"
LOCUSTFILE = Path(__file__).resolve().parent / "locustfile.py"
PUBLISH_TIMEOUT = 300.0


def wait_published(data: Path, timeout: float = PUBLISH_TIMEOUT) -> float:
    """Seconds until no job is queued or running; TimeoutError past ``timeout``."""
    from control.jobs import store
    from control.storage.db import Database

    started = time.monotonic()
    db = Database(data)
    try:
        while time.monotonic() - started < timeout:
            views = [store.view(row) for row in store.listing(db, None, None)]
            if failed := [job for job in views if job["state"] == "failed"]:
                raise RuntimeError(f"publish job failed: {failed[0]['errors']}")
            if all(job["state"] not in store.ACTIVE for job in views):
                return time.monotonic() - started
            time.sleep(0.1)
    finally:
        db.close()
    raise TimeoutError(f"jobs still running after {timeout:g}s")


def run(phones: int, shape: str, out: Path, settings: dict[str, str], timeout: float) -> int:
    out.mkdir(parents=True, exist_ok=True)
    prefix = out / f"{shape}-{phones}"
    with tempfile.TemporaryDirectory(prefix="provedge-loadtest-") as scratch:
        data = Path(scratch) / "data"
        data.mkdir()
        server = start_provedge(data, "--no-sip")
        try:
            phone_list = out / f"phones-{phones}.csv"
            subprocess.run(
                [sys.executable, "-m", "provedge.cli", "loadtest", "seed", "--data", str(data),
                 "--phones", str(phones), "--tenant", "loadtest", "--out", str(phone_list),
                 "--edge-url", server.edge],
                check=True, timeout=timeout,
            )  # fmt: skip
            print(f"published in {wait_published(data):.2f}s", flush=True)
            env = {**os.environ, **settings, "LOADTEST_PHONES": str(phone_list),
                   "LOADTEST_SHAPE": shape}  # fmt: skip
            locust = subprocess.run(
                [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
                 "--only-summary", "--csv", str(prefix), "--html", f"{prefix}.html",
                 "--loglevel", "WARNING"],
                env=env, timeout=timeout, check=False,
            )  # fmt: skip
        finally:
            stop_provedge(server)
    print(f"reports: {prefix}_stats.csv, {prefix}.html")
    return locust.returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phones", type=int, default=1000)
    parser.add_argument("--shape", choices=("storm", "waves", "steady"), default="storm")
    parser.add_argument("--out", type=Path, default=RESULTS, help="reports folder")
    parser.add_argument("--window", help="seconds in which every phone boots")
    parser.add_argument("--duration", help="seconds the locust run lasts")
    parser.add_argument("--resync", help="seconds between a phone's re-syncs")
    parser.add_argument("--timeout", type=float, default=600.0, help="deadline of each step")
    args = parser.parse_args(argv)
    names = {"window": "LOADTEST_WINDOW", "duration": "LOADTEST_DURATION",
             "resync": "LOADTEST_RESYNC"}  # fmt: skip
    given = {env: getattr(args, name) for name, env in names.items() if getattr(args, name)}
    return run(args.phones, args.shape, args.out, given, args.timeout)


if __name__ == "__main__":
    sys.exit(main())
