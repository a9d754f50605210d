"""The edge against nginx serving the same bytes, side by side in one run, as ratios.

The targets are ratios to nginx on the same machine (the load-test issue): with
accounting and ban checks on, keep-alive requests/s at least 100% of nginx's, a new
connection per request at least 80%. This script publishes the demo data, serves one demo
phone's config from the edge and the same bytes as a static file from nginx at its best
(one worker, ``open_file_cache`` on, access log off), loads each with wrk (server on CPU
0, wrk on CPU 1, loopback only, bounded duration) and prints requests/s, the ratios and
the CPU time each server (all its processes) spent a request, the figure that other
load on the machine moves least.

The machine is shared, so the servers are loaded in turns within each of ``--rounds``
rounds (edge, nginx, edge, nginx ...) and every round's ratio is printed with the load
average, then the median. ``--baseline DIR`` adds a third server in the same turns: the
edge of another checkout (its tree first on ``PYTHONPATH``, a copy of the data), to compare
two versions of the edge in one run.

Then the edge's latency under a load it can carry (the issue's "p99 at 80% of the edge's
own maximum rate"): wrk's connections paced by a Lua ``delay()`` of 1 ms between each
connection's requests, as many connections as make 80% of the best keep-alive rate of
the rounds (up to four tries, corrected from each try's measured rate), with
``--latency``: the rate reached and its p50/p90/p99.

Needs wrk and nginx on PATH: ``make bench-edge`` installs them from the distribution
(Debian ``wrk``, ``nginx-light``) when missing, then runs this.
Run: .venv/bin/python benchmarks/edge_vs_nginx.py [--seconds 5] [--connections 50]
     [--rounds 3] [--baseline DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HOST = "127.0.0.1"
EDGE_PORT, NGINX_PORT, BASELINE_PORT = 18181, 18182, 18183


def wait_ready(url: str, deadline_s: float = 20) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not come up")


def tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (Linux /proc)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            with contextlib.suppress(OSError):
                todo += [int(c) for c in (task / "children").read_text().split()]
    return found


def cpu_s(pid: int) -> float:
    """User and system CPU seconds of ``pid`` and its descendants so far."""
    total = 0
    for each in tree(pid):
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def wrk(url: str, seconds: int, connections: int, close: bool) -> tuple[float, int]:
    command = ["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", url]
    if close:
        command[5:5] = ["-H", "Connection: close"]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    count = re.search(r"(\d+) requests in", out)
    if not match or not count:
        raise SystemExit(f"wrk printed no rate:\n{out}")
    return float(match.group(1)), int(count.group(1))


PACE = "function delay()\n  return 1\nend\n"  # wrk Lua: 1 ms between a connection's requests
_LATENCY = re.compile(r"^\s+(50|90|99)%\s+([\d.]+)(us|ms|s)\s*$", re.MULTILINE)
_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def paced(url: str, seconds: int, connections: int, script: Path) -> tuple[float, dict[str, float]]:
    """Requests/s and the p50/p90/p99 (ms) of ``connections`` paced keep-alive connections."""
    command = ["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{seconds}s",
               "--latency", "-s", str(script), url]  # fmt: skip
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    found = {f"p{p}": float(v) * _UNIT_MS[u] for p, v, u in _LATENCY.findall(out)}
    if not rate or len(found) != 3:
        raise SystemExit(f"wrk printed no latency:\n{out}")
    return float(rate.group(1)), found


def at_80_percent(
    url: str, seconds: int, best: float, work: Path, tries: int = 4
) -> tuple[int, float, dict[str, float]]:
    """The paced run nearest 80% of ``best``: connections, rate, latency. The rate is not
    proportional to the connections near saturation, so up to ``tries`` corrections."""
    script = work / "pace.lua"
    script.write_text(PACE)
    target = 0.8 * best
    connections = first = max(1, round(target / 1000))
    runs = []
    for _ in range(tries):
        rate, latency = paced(url, seconds, connections, script)
        print(f"  paced: {connections} connections, {rate:,.0f} req/s, p99 {latency['p99']} ms")
        runs.append((abs(rate - target), connections, rate, latency))
        if rate <= 0 or abs(rate - target) / target <= 0.05:
            break
        # damped, and never past twice the first guess: hundreds of paced connections
        # measure wrk's timers more than the edge
        connections = max(1, min(2 * first, round(connections * (target / rate) ** 0.7)))
    _, connections, rate, latency = min(runs, key=lambda run: run[0])
    return connections, rate, latency


def nginx_conf(root: Path, work: Path) -> Path:
    conf = work / "nginx.conf"
    conf.write_text(
        f"worker_processes 1; pid {work}/nginx.pid; error_log {work}/error.log;\n"
        "events { worker_connections 4096; }\n"
        f"http {{ access_log off; open_file_cache max=1000 inactive=60s;"
        " open_file_cache_valid 60s; sendfile on; tcp_nopush on;"
        f" server {{ listen {HOST}:{NGINX_PORT}; root {root};"
        " keepalive_requests 1000000; } }\n"
    )
    return conf


def start_edge(data: Path, port: int, tree: Path | None = None) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    if tree is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(tree), env.get("PYTHONPATH", "")])
    command = [sys.executable, "-m", "provedge.cli", "edge", "--data", str(data)]
    command += ["--port", str(port), "--sip-port", "0"]
    return subprocess.Popen(["taskset", "-c", "0", *command], env=env, cwd=tree)


def load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline", type=Path, help="another checkout's edge, compared too")
    args = parser.parse_args()
    for tool in ("wrk", "nginx", "taskset"):
        if shutil.which(tool) is None:
            print(
                f"edge_vs_nginx: {tool} not found (apt-get install wrk nginx-light)",
                file=sys.stderr,
            )
            return 2
    from control.wiring import build_control
    from provedge.cli import prepare_data

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        work.chmod(0o755)  # nginx workers run unprivileged and must read the file
        prepare_data(str(work / "data"), f"http://{HOST}:{EDGE_PORT}")
        ctl = build_control(work / "data", f"http://{HOST}:{EDGE_PORT}")
        phone = next(
            d for d in ctl.list_devices("demo")["items"] if d["model"].startswith("yealink")
        )
        ctl.close()
        edge_url = f"{phone['provisioning_url']}{phone['mac']}.cfg"
        urls = {"edge": edge_url}
        servers = [start_edge(work / "data", EDGE_PORT)]
        if args.baseline is not None:
            # A copy of the data: each edge runs its own edge-state writer.
            shutil.copytree(work / "data", work / "baseline-data")
            servers.append(
                start_edge(work / "baseline-data", BASELINE_PORT, args.baseline.resolve())
            )
            urls["baseline"] = edge_url.replace(f":{EDGE_PORT}/", f":{BASELINE_PORT}/")
        conf = nginx_conf(work / "www", work)
        try:
            for url in urls.values():
                wait_ready(url)
            body = urllib.request.urlopen(edge_url).read()
            (work / "www").mkdir()
            (work / "www" / "phone.cfg").write_bytes(body)
            subprocess.run(["taskset", "-c", "0", "nginx", "-c", str(conf)], check=True)
            urls["nginx"] = f"http://{HOST}:{NGINX_PORT}/phone.cfg"
            wait_ready(urls["nginx"])
            pids = dict(zip(urls, [s.pid for s in servers], strict=False))
            pids["nginx"] = int((work / "nginx.pid").read_text())
            rounds = []
            for _ in range(args.rounds):
                before = load()
                rates = {name: [0.0, 0.0] for name in urls}
                costs = {name: [0.0, 0.0] for name in urls}
                for column, close in enumerate((False, True)):
                    for name, url in urls.items():
                        used = cpu_s(pids[name])
                        rate, count = wrk(url, args.seconds, args.connections, close)
                        rates[name][column] = rate
                        costs[name][column] = (cpu_s(pids[name]) - used) / count * 1e6
                rounds.append((rates, costs, before, load()))
            best = max(r[0]["edge"][0] for r in rounds)
            before = load()
            under = at_80_percent(urls["edge"], args.seconds, best, work)
            under_load = (before, load())
        finally:
            subprocess.run(["nginx", "-c", str(conf), "-s", "stop"], check=False)
            for server in servers:
                server.terminate()
                server.wait()
    print(
        f"{len(body)}-byte config, wrk -t1 -c{args.connections} -d{args.seconds}s, "
        "servers on CPU 0, wrk on CPU 1"
    )
    ratios = []
    for number, (rates, costs, before, after) in enumerate(rounds, 1):
        print(f"round {number} (load average {before} before, {after} after)")
        print(f"  {'req/s':10}{'keep-alive':>12}{'new conn':>12}   CPU us/request (all processes)")
        for name, (keep, close) in rates.items():
            cost = costs[name]
            print(f"  {name:10}{keep:>12,.0f}{close:>12,.0f}   {cost[0]:6.1f} {cost[1]:6.1f}")
        ratio = [e / n for e, n in zip(rates["edge"], rates["nginx"], strict=True)]
        ratios.append(ratio)
        print(f"  {'ratio':10}{ratio[0]:>12.0%}{ratio[1]:>12.0%}")
    keep, close = (statistics.median(r[i] for r in ratios) for i in (0, 1))
    print(
        f"median ratio {keep:.0%} keep-alive, {close:.0%} new connection"
        "   (targets: >= 100% and >= 80%)"
    )
    connections, rate, latency = under
    print(
        f"edge at {rate / best:.0%} of its best keep-alive rate ({rate:,.0f} of {best:,.0f} req/s,"
        f" {connections} paced connections; load average {under_load[0]} before,"
        f" {under_load[1]} after): p50 {latency['p50']:.2f} ms, p90 {latency['p90']:.2f} ms,"
        f" p99 {latency['p99']:.2f} ms   (target: p99 <= 10 ms at 80%)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
