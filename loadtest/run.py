"""``make loadtest``: a local provedge, a seeded fleet, one headless locust run, all stopped.

With ``--driver``, the storm driver (loadtest/storm.py) plays the storm instead of
locust. Steps, each with a deadline: start ``provedge run`` on free loopback ports with a fresh
data directory (the test suite's own helpers, tests/conftest.py, which wait for both
``/healthz``), seed ``--phones`` phones into it (``provedge loadtest seed``), wait for the
control plane's job runner to publish them (the ``recompile`` job the seed queued), run
locust headless on loadtest/locustfile.py with ``--csv`` and ``--html`` into the results
folder, stop the server. Exit status: locust's (1 when any request failed).

    .venv/bin/python -m loadtest.run --phones 1000 --shape storm
    .venv/bin/python -m loadtest.run --phones 20000 --driver --window 20
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import start_provedge, stop_provedge

ROOT = Path(__file__).resolve().parent.parent
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


@contextlib.contextmanager
def seeded(phones: int, out: Path, timeout: float, workers: int = 1) -> Iterator[Path]:
    """A running provedge (``workers`` edge processes) with ``phones`` phones published;
    yields the phone list."""
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="provedge-loadtest-") as scratch:
        data = Path(scratch) / "data"
        data.mkdir()
        server = start_provedge(data, "--no-sip", "--workers", str(workers))
        try:
            phone_list = out / f"phones-{phones}.csv"
            subprocess.run(
                [sys.executable, "-m", "provedge.cli", "loadtest", "seed", "--data", str(data),
                 "--phones", str(phones), "--tenant", "loadtest", "--out", str(phone_list),
                 "--edge-url", server.edge],
                check=True, timeout=timeout,
            )  # fmt: skip
            print(f"published in {wait_published(data):.2f}s", flush=True)
            yield phone_list
        finally:
            stop_provedge(server)


def run(
    phones: int, shape: str, out: Path, settings: dict[str, str], timeout: float, workers: int
) -> int:
    """One headless locust run of ``shape``; locust's exit status."""
    prefix = out / f"{shape}-{phones}"
    with seeded(phones, out, timeout, workers) as phone_list:
        env = {**os.environ, **settings, "LOADTEST_PHONES": str(phone_list),
               "LOADTEST_SHAPE": shape, "PYTHONPATH": str(ROOT)}  # fmt: skip
        locust = subprocess.run(
            [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
             "--only-summary", "--csv", str(prefix), "--html", f"{prefix}.html",
             "--loglevel", "WARNING"],
            env=env, timeout=timeout, check=False,
        )  # fmt: skip
    print(f"reports: {prefix}_stats.csv, {prefix}.html")
    return locust.returncode


def storm(
    phones: int, out: Path, window: float, timeout: float, workers: int, extra: list[str]
) -> int:
    """One run of the storm driver (loadtest/storm.py); its exit status."""
    from loadtest import storm as driver

    prefix = out / f"storm-driver-{phones}"
    with seeded(phones, out, timeout, workers) as phone_list:
        argv = ["--phones-csv", str(phone_list), "--window", str(window),
                "--timeout", str(timeout), "--out", str(prefix), *extra]  # fmt: skip
        status = driver.main(argv)
    print(f"reports: {prefix}.json, {prefix}.png")
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phones", type=int, default=1000)
    parser.add_argument("--shape", choices=("storm", "waves", "steady"), default="storm")
    parser.add_argument(
        "--driver",
        action="store_true",
        help="the asyncio storm driver (loadtest/storm.py) instead of locust",
    )
    parser.add_argument(
        "--keep-alive",
        action="store_true",
        help="storm driver: one connection per phone (default: a new connection per file)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="reports folder")
    parser.add_argument("--window", help="seconds in which every phone boots")
    parser.add_argument("--duration", help="seconds the locust run lasts")
    parser.add_argument("--resync", help="seconds between a phone's re-syncs")
    parser.add_argument("--timeout", type=float, default=600.0, help="deadline of each step")
    parser.add_argument("--workers", type=int, default=1, help="edge worker processes")
    args = parser.parse_args(argv)
    names = {"window": "LOADTEST_WINDOW", "duration": "LOADTEST_DURATION",
             "resync": "LOADTEST_RESYNC"}  # fmt: skip
    given = {env: getattr(args, name) for name, env in names.items() if getattr(args, name)}
    if args.driver:
        extra = ["--keep-alive"] if args.keep_alive else []
        window = float(args.window or 10)
        return storm(args.phones, args.out, window, args.timeout, args.workers, extra)
    return run(args.phones, args.shape, args.out, given, args.timeout, args.workers)


if __name__ == "__main__":
    sys.exit(main())
