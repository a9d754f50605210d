"""The edge against nginx serving the same bytes, side by side in one run, as ratios.

The targets are ratios to nginx on the same machine (the load-test issue): with
accounting and ban checks on, keep-alive requests/s at least 100% of nginx's, a new
connection per request at least 80%. This script publishes the demo data, serves one demo
phone's config from the edge and the same bytes as a static file from nginx at its best
(one worker, ``open_file_cache`` on, access log off), loads each with wrk (server on CPU
0, wrk on CPU 1, loopback only, bounded duration) and prints requests/s and the ratios.

Needs wrk and nginx on PATH: ``make bench-edge`` installs them from the distribution
(Debian ``wrk``, ``nginx-light``) when missing, then runs this.
Run: .venv/bin/python benchmarks/edge_vs_nginx.py [--seconds 5] [--connections 50]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HOST = "127.0.0.1"
EDGE_PORT, NGINX_PORT = 18181, 18182


def wait_ready(url: str, deadline_s: float = 20) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not come up")


def wrk(url: str, seconds: int, connections: int, close: bool) -> float:
    command = ["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", url]
    if close:
        command[5:5] = ["-H", "Connection: close"]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not match:
        raise SystemExit(f"wrk printed no rate:\n{out}")
    return float(match.group(1))


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=50)
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
        edge = subprocess.Popen(
            [
                "taskset",
                "-c",
                "0",
                sys.executable,
                "-m",
                "provedge.cli",
                "edge",
                "--data",
                str(work / "data"),
                "--port",
                str(EDGE_PORT),
                "--sip-port",
                "0",
            ]
        )
        try:
            wait_ready(edge_url)
            body = urllib.request.urlopen(edge_url).read()
            (work / "www").mkdir()
            (work / "www" / "phone.cfg").write_bytes(body)
            results = {
                "edge": [wrk(edge_url, args.seconds, args.connections, c) for c in (False, True)]
            }
        finally:
            edge.terminate()
            edge.wait()
        conf = nginx_conf(work / "www", work)
        subprocess.run(["taskset", "-c", "0", "nginx", "-c", str(conf)], check=True)
        try:
            nginx_url = f"http://{HOST}:{NGINX_PORT}/phone.cfg"
            wait_ready(nginx_url)
            results["nginx"] = [
                wrk(nginx_url, args.seconds, args.connections, c) for c in (False, True)
            ]
        finally:
            subprocess.run(["nginx", "-c", str(conf), "-s", "stop"], check=False)
    print(
        f"{len(body)}-byte config, wrk -t1 -c{args.connections} -d{args.seconds}s, server on CPU 0"
    )
    print(f"{'':8}{'keep-alive':>14}{'new conn':>14}")
    for name, (keep, close) in results.items():
        print(f"{name:8}{keep:>14,.0f}{close:>14,.0f}")
    ratio = [e / n for e, n in zip(results["edge"], results["nginx"], strict=True)]
    print(f"{'ratio':8}{ratio[0]:>14.0%}{ratio[1]:>14.0%}   (targets: >= 100% and >= 80%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
