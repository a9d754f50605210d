"""Mass recompile after a tenant change: devices/s from SQLite into LMDB on one core.

Run: .venv/bin/python benchmarks/recompile.py [DEVICES] [--profile] [--edge]

A fresh data directory, one tenant with two accounts on two extensions, DEVICES (100,000)
phones, half Yealink T46S and half Polycom VVX 400, two lines each, imported and published
first. Timed: a tenant change (its NTP server), which bumps every device and queues the
``recompile`` job, then the job run to its end in this thread (the control plane's runner
does the same in its own). With ``--profile`` the job runs under cProfile and the time is
split into where it goes: SQLite reads of the devices and their lines, building the values,
rendering the files, and the LMDB write transactions (docs/performance.md, "Mass
recompile"). With ``--edge`` a real ``provedge edge`` serves the data directory during the
recompile (pinned to the second core, the recompile to the first) while wrk fetches one
phone's file on 20 keep-alive connections from the start of the recompile to its end;
wrk's latency distribution is printed (the edge's p99 while LMDB is being rewritten).
"""

from __future__ import annotations

import cProfile
import os
import pstats
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from control.api.schemas import AccountIn, ExtensionIn, TenantIn, TenantPatch
from control.domain.devicecsv import read_rows
from control.wiring import build_control

EDGE = "http://edge.example:8080"
# (label, function names whose cumulative time is that part; "-name": less that one),
# measured inside the job. Rendering is Cython, invisible to cProfile: it is the compiler's
# device_files less the values it builds (with the blob encoding and the file names).
PARTS = (
    ("SQLite reads (devices, lines, keys)", ("devices_data", "_pending_rows")),
    ("values (the variable set)", ("device_values",)),
    ("rendering, encoding, file names", ("compiler.py:device_files", "-device_values")),
    ("LMDB write transactions", ("publish",)),
    ("SQLite marks (published_rev)", ("_mark",)),
)


def build(ctl: object, devices: int) -> int:
    tenant = ctl.create_tenant(TenantIn(name="r", realm="r.example", sip_server="pbx.r"))  # type: ignore[attr-defined]
    for n in (1, 2):
        ctl.create_account(AccountIn(tenant=tenant["id"], username=f"u{n}"))  # type: ignore[attr-defined]
        ctl.create_extension(ExtensionIn(tenant=tenant["id"], number=f"10{n}", accounts=[f"u{n}"]))  # type: ignore[attr-defined]
    models = ("yealink-t46s", "polycom-vvx400")
    text = "mac,model,name,line1,line2\n" + "".join(
        f"0015{n:08x},{models[n % 2]},Desk {n},101,102\n" for n in range(devices)
    )
    ctl.import_devices(tenant["id"], read_rows(text))  # type: ignore[attr-defined]
    ctl.jobs.run_until_idle()  # type: ignore[attr-defined]
    return int(tenant["id"])


def main(devices: int, profile: bool, edge: bool = False) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ctl = build_control(Path(tmp), EDGE)
        tenant = build(ctl, devices)
        served = _EdgeUnderLoad(Path(tmp), ctl, tenant) if edge else None
        started = time.perf_counter()
        job = ctl.update_tenant(tenant, TenantPatch(ntp_server="ntp2.r.example"))["job"]
        profiler = cProfile.Profile() if profile else None
        if profiler is not None:
            profiler.enable()
        ctl.jobs.run_until_idle()
        if profiler is not None:
            profiler.disable()
        seconds = time.perf_counter() - started
        if served is not None:
            served.stop()
        done = ctl.get_job(job["id"])
        assert done["state"] == "done" and done["errors"] == [], done
        assert ctl.publishing.pending(tenant) == 0
        print(f"{done['done']} devices and records recompiled and published in {seconds:.2f}s:"
              f" {devices / seconds:,.0f} devices/s")  # fmt: skip
        if profiler is not None:
            _breakdown(profiler, seconds)
        ctl.close()


class _EdgeUnderLoad:
    """``provedge edge`` on the data directory, and wrk on it until :meth:`stop`."""

    def __init__(self, data: Path, ctl: object, tenant: int) -> None:
        port = _free_port()
        view = ctl.get_tenant(tenant)  # type: ignore[attr-defined]
        url_key = view["provisioning_url"].rstrip("/").rsplit("/", 1)[1]
        url = f"http://127.0.0.1:{port}/p/{url_key}/0015{0:08x}.cfg"
        self.edge = subprocess.Popen(
            ["taskset", "-c", "1", sys.executable, "-m", "provedge.cli", "edge", "--data",
             str(data), "--port", str(port), "--sip-port", "0"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(url, timeout=1) as answer:
                    assert answer.status == 200
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("the edge did not come up") from None
                time.sleep(0.1)
        os.sched_setaffinity(0, {0})  # the recompile on the other core
        self.wrk = subprocess.Popen(
            ["taskset", "-c", "1", "wrk", "-t1", "-c20", "-d600s", "--latency", url],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip

    def stop(self) -> None:
        self.wrk.send_signal(signal.SIGINT)  # wrk prints its figures when interrupted
        out, _ = self.wrk.communicate(timeout=30)
        self.edge.terminate()
        self.edge.wait(timeout=30)
        lines = [line for line in out.splitlines()
                 if "%" in line or "Requests/sec" in line or "requests in" in line]  # fmt: skip
        print("the edge during the recompile (wrk -t1 -c20, keep-alive):")
        for line in lines:
            print("  " + line.strip())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _breakdown(profiler: cProfile.Profile, seconds: float) -> None:
    stats = pstats.Stats(profiler)
    by_name: dict[str, float] = {}
    for (file, _line, name), row in stats.stats.items():  # type: ignore[attr-defined]
        # cumulative seconds, by name and by "module.py:name"
        for key in (name, f"{Path(file).name}:{name}"):
            by_name[key] = by_name.get(key, 0.0) + row[3]
    total = sum(row[2] for row in stats.stats.values())  # type: ignore[attr-defined]
    print(f"profiled (cProfile slows it; shares are what count), {total:.2f}s of own time:")
    for label, names in PARTS:
        spent = sum(
            -by_name.get(name[1:], 0.0) if name.startswith("-") else by_name.get(name, 0.0)
            for name in names
        )
        print(f"  {label:40s} {spent:7.2f}s  {100 * spent / max(total, 1e-9):5.1f}%")
    print(f"  (wall time of the run: {seconds:.2f}s)")
    print("the functions with the most own time:")
    stats.sort_stats("tottime").print_stats(12)


if __name__ == "__main__":
    count = int(next((a for a in sys.argv[1:] if a.isdigit()), "100000"))
    main(count, "--profile" in sys.argv[1:], "--edge" in sys.argv[1:])
