"""``make loadtest``: a local provedge, a seeded fleet, one headless locust run, all stopped.

With ``--driver``, the storm driver (loadtest/storm.py) plays the storm instead of
locust; with ``--register MODE``, the REGISTER driver (loadtest/register.py) measures the
registrar instead, the server pinned to one core and the driver to another
(``taskset``), over UDP on the server's SIP port. Steps, each with a deadline: start ``provedge run`` on free loopback ports with a fresh
data directory (the test suite's own helpers, tests/conftest.py, which wait for both
``/healthz``), seed ``--phones`` phones into it (``provedge loadtest seed``), wait for the
control plane's job runner to publish them (the ``recompile`` job the seed queued), run
locust headless on loadtest/locustfile.py with ``--csv`` and ``--html`` into the results
folder, stop the server. Exit status: locust's (1 when any request failed).

    .venv/bin/python -m loadtest.run --phones 1000 --shape storm
    .venv/bin/python -m loadtest.run --phones 20000 --driver --window 20
    .venv/bin/python -m loadtest.run --phones 10000 --register both --registers 200000
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import Provedge, start_provedge, stop_provedge

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
    with seeded_server(phones, out, timeout, workers) as (_server, phone_list):
        yield phone_list


@contextlib.contextmanager
def seeded_server(
    phones: int, out: Path, timeout: float, workers: int = 1, sip: bool = False,
    prefix: tuple[str, ...] = (),
) -> Iterator[tuple[Provedge, Path]]:  # fmt: skip
    """:func:`seeded`, SIP on when ``sip``, the server run under ``prefix``; yields the
    server and the phone list."""
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="provedge-loadtest-") as scratch:
        data = Path(scratch) / "data"
        data.mkdir()
        sip_flag = "--sip" if sip else "--no-sip"
        server = start_provedge(data, sip_flag, "--workers", str(workers), prefix=prefix)
        try:
            phone_list = out / f"phones-{phones}.csv"
            subprocess.run(
                [sys.executable, "-m", "provedge.cli", "loadtest", "seed", "--data", str(data),
                 "--phones", str(phones), "--tenant", "loadtest", "--out", str(phone_list),
                 "--edge-url", server.edge],
                check=True, timeout=timeout,
            )  # fmt: skip
            print(f"published in {wait_published(data):.2f}s", flush=True)
            yield server, phone_list
        finally:
            stop_provedge(server)


def run(
    phones: int, shape: str, out: Path, settings: dict[str, str], timeout: float, workers: int,
    sip: bool = False,
) -> int:  # fmt: skip
    """One headless locust run of ``shape``; locust's exit status. ``sip``: the phones
    register after their files (request type SIP)."""
    prefix = out / f"{shape}-{phones}"
    with seeded_server(phones, out, timeout, workers, sip=sip) as (server, phone_list):
        env = {**os.environ, **settings, "LOADTEST_PHONES": str(phone_list),
               "LOADTEST_SHAPE": shape, "PYTHONPATH": str(ROOT)}  # fmt: skip
        if sip:
            env["LOADTEST_SIP"] = f"127.0.0.1:{server.sip_port}"
        locust = subprocess.run(
            [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
             "--only-summary", "--csv", str(prefix), "--html", f"{prefix}.html",
             "--loglevel", "WARNING"],
            env=env, timeout=timeout, check=False,
        )  # fmt: skip
    print(f"reports: {prefix}_stats.csv, {prefix}.html")
    return locust.returncode


def storm(
    phones: int, out: Path, window: float, timeout: float, workers: int, extra: list[str],
    sip: bool = False,
) -> int:  # fmt: skip
    """One run of the storm driver (loadtest/storm.py); its exit status. ``sip``: each
    phone also registers (the edge's SIP on)."""
    from loadtest import storm as driver

    prefix = out / (f"storm-driver-{phones}" + ("-sip" if sip else ""))
    with seeded_server(phones, out, timeout, workers, sip=sip) as (server, phone_list):
        argv = ["--phones-csv", str(phone_list), "--window", str(window),
                "--timeout", str(timeout), "--out", str(prefix),
                "--accounting", str(server.data), *extra]  # fmt: skip
        if sip:
            argv += ["--sip", f"127.0.0.1:{server.sip_port}"]
        status = driver.main(argv)
    print(f"reports: {prefix}.json, {prefix}.png")
    return status


def cores() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The ``taskset`` prefixes of the server and of the driver: one core each, the first
    two this process may use; none (and a word why) without taskset or a second core."""
    allowed = sorted(os.sched_getaffinity(0))
    if shutil.which("taskset") is None or len(allowed) < 2:
        print("register: no taskset or a single core: server and driver are not pinned")
        return (), ()
    return tuple(f"taskset -c {allowed[0]}".split()), tuple(f"taskset -c {allowed[1]}".split())


def register(
    accounts: int, modes: list[str], count: int, out: Path, timeout: float, in_flight: int,
    sockets: int,
) -> int:  # fmt: skip
    """Each mode of the REGISTER driver (loadtest/register.py) against one provedge with
    one edge worker; the driver runs as its own process. Exit status: 1 if any failed."""
    server_cores, driver_cores = cores()
    status = 0
    with seeded_server(accounts, out, timeout, 1, sip=True, prefix=server_cores) as (
        server, phone_list,
    ):  # fmt: skip
        for mode in modes:
            report = out / f"register-{mode}-{accounts}.json"
            command = [*driver_cores, sys.executable, "-m", "loadtest.register",
                       "--phones-csv", str(phone_list), "--port", str(server.sip_port),
                       "--mode", mode, "--count", str(count), "--window", str(in_flight),
                       "--sockets", str(sockets), "--timeout", str(timeout),
                       "--out", str(report)]  # fmt: skip
            print("register:", " ".join(command[:-2]), flush=True)
            driver = subprocess.run(
                command, env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT,
                timeout=timeout + 60, check=False, stdout=subprocess.DEVNULL,
            )  # fmt: skip
            status = status or driver.returncode
            if report.exists():
                print(summary(json.loads(report.read_text())), flush=True)
    return status


def summary(report: dict[str, object]) -> str:
    """One line of a REGISTER driver report."""
    latency = report["latency_ms"]
    assert isinstance(latency, dict)
    return (f"register {report['mode']}: {report['registrations']} registrations in "
            f"{report['duration_s']} s = {report['registrations_per_s']}/s "
            f"({report['register_requests_per_s']} REGISTER/s), p50 {latency['p50']} ms, "
            f"p99 {latency['p99']} ms, failures {report['failures'] or 0}")  # fmt: skip


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
    parser.add_argument(
        "--sip", action="store_true", help="each phone registers after its files (SIP on)"
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="reports folder")
    parser.add_argument("--window", help="seconds in which every phone boots")
    parser.add_argument("--duration", help="seconds the locust run lasts")
    parser.add_argument("--resync", help="seconds between a phone's re-syncs")
    parser.add_argument("--timeout", type=float, default=600.0, help="deadline of each step")
    parser.add_argument("--workers", type=int, default=1, help="edge worker processes")
    parser.add_argument(
        "--register",
        choices=("preauth", "challenge", "both"),
        help="the REGISTER driver (loadtest/register.py) in this mode",
    )
    parser.add_argument(
        "--registers", type=int, default=100_000, help="register: registrations per mode"
    )
    parser.add_argument("--in-flight", type=int, default=64, help="register: REGISTERs at once")
    parser.add_argument("--sockets", type=int, default=4, help="register: driver UDP sockets")
    args = parser.parse_args(argv)
    if args.register:
        modes = ["preauth", "challenge"] if args.register == "both" else [args.register]
        return register(args.phones, modes, args.registers, args.out, args.timeout,
                        args.in_flight, args.sockets)  # fmt: skip
    names = {"window": "LOADTEST_WINDOW", "duration": "LOADTEST_DURATION",
             "resync": "LOADTEST_RESYNC"}  # fmt: skip
    given = {env: getattr(args, name) for name, env in names.items() if getattr(args, name)}
    if args.driver:
        extra = ["--keep-alive"] if args.keep_alive else []
        window = float(args.window or 10)
        return storm(args.phones, args.out, window, args.timeout, args.workers, extra, args.sip)
    return run(args.phones, args.shape, args.out, given, args.timeout, args.workers, args.sip)


if __name__ == "__main__":
    sys.exit(main())
