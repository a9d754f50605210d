"""Start and stop `provedge edge --workers N` many times and report every start that hangs.

A start counts as good when, before its deadline, every worker process has answered
`/healthz` (new connection each time, so the kernel spreads them over the workers'
SO_REUSEPORT sockets), a published config file is served, and a SIP OPTIONS over UDP gets
its 200. A start that misses the deadline is a hang: the script records each process's
threads and kernel wait channels, then sends SIGABRT so that faulthandler (on through
PYTHONFAULTHANDLER) prints every thread's Python stack into that start's log, which is
kept. A stop that takes longer than its deadline is reported too.

Not part of the test suite (it runs for minutes). Example, three starts at a time:

    .venv/bin/python benchmarks/edge_start_loop.py --starts 1000 --parallel 3
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import orjson

HOST = "127.0.0.1"
OPTIONS = (
    "OPTIONS sip:edge@{host}:{port} SIP/2.0\r\n"
    "Via: SIP/2.0/UDP {host}:{src};branch=z9hG4bK-loop{n}\r\n"
    "Max-Forwards: 70\r\nFrom: <sip:loop@{host}>;tag=loop\r\nTo: <sip:edge@{host}>\r\n"
    "Call-ID: loop-{n}@{host}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
)
_port_lock = threading.Lock()


@dataclass
class Tally:
    good: int = 0
    hangs: list[str] = field(default_factory=list)
    slow_stops: list[str] = field(default_factory=list)
    start_seconds: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def free_ports() -> tuple[int, int]:
    """An HTTP port, and a SIP port free for both UDP and TCP (the edge binds both)."""
    with _port_lock:
        while True:
            with socket.socket() as http, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                http.bind((HOST, 0))
                udp.bind((HOST, 0))
                sip = udp.getsockname()[1]
                try:
                    with socket.socket() as tcp:
                        tcp.bind((HOST, sip))
                except OSError:
                    continue
                return int(http.getsockname()[1]), int(sip)


def prepare(data: Path) -> str:
    """Publish the demo into ``data`` and return the path of one served file."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from provedge.cli import prepare_data
    from provedge.formats import store

    prepare_data(str(data), "http://127.0.0.1:1")
    env = store.open_env(data, readonly=True)
    with env.begin(db=env.open_db(store.BLOBS_DB, create=False)) as txn:
        key = next(iter(txn.cursor().iternext(values=False))).decode()
    env.close()
    return "/p/" + key


def get(url: str) -> bytes | None:
    request = urllib.request.Request(url, headers={"Connection": "close"})
    try:
        with urllib.request.urlopen(request, timeout=1) as response:
            return bytes(response.read()) if response.status == 200 else None
    except OSError:
        return None


def sip_options(port: int, n: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((HOST, 0))
        sock.settimeout(0.5)
        message = OPTIONS.format(host=HOST, port=port, src=sock.getsockname()[1], n=n)
        sock.sendto(message.encode(), (HOST, port))
        try:
            return sock.recv(65535).startswith(b"SIP/2.0 200")
        except OSError:
            return False


def ready(http: int, sip: int, file_path: str, workers: int, deadline: float, n: int) -> bool:
    pids: set[int] = set()
    served = answered = False
    while time.monotonic() < deadline:
        body = get(f"http://{HOST}:{http}/healthz")
        if body is not None:
            pids.add(orjson.loads(body)["pid"])
        served = served or get(f"http://{HOST}:{http}{file_path}") is not None
        answered = answered or sip_options(sip, n)
        if len(pids) == workers and served and answered:
            return True
        if body is None:
            time.sleep(0.05)
    return False


def tree(pid: int) -> list[int]:
    """``pid`` and its descendants, parents first."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    order, todo = [], [pid]
    while todo:
        current = todo.pop(0)
        order.append(current)
        todo += sorted(children.get(current, []))
    return order


def diagnose(pid: int, log: Path) -> None:
    pids = tree(pid)
    with open(log, "a") as out:
        out.write("\n=== hang: threads and kernel wait channels ===\n")
        for p in pids:
            for task in sorted(Path(f"/proc/{p}/task").glob("*")):
                try:
                    comm = (task / "comm").read_text().strip()
                    wchan = (task / "wchan").read_text().strip()
                    state = (task / "stat").read_text().rsplit(")", 1)[1].split()[0]
                except OSError:
                    continue
                out.write(f"pid {p} tid {task.name} {comm} state {state} wchan {wchan}\n")
        out.write("=== SIGABRT to each process (faulthandler stacks follow) ===\n")
    for p in reversed(pids):
        try:
            os.kill(p, signal.SIGABRT)
        except ProcessLookupError:
            pass
        time.sleep(0.3)


def one_start(
    n: int, args: argparse.Namespace, data: Path, file_path: str, logs: Path, tally: Tally
) -> None:
    http, sip = free_ports()
    log = logs / f"start-{n:05d}.log"
    command = [
        sys.executable, "-m", "provedge.cli", "edge", "--data", str(data), "--host", HOST,
        "--port", str(http), "--sip-port", str(sip), "--workers", str(args.workers),
    ]  # fmt: skip
    began = time.monotonic()
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONFAULTHANDLER": "1", "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
    ok = ready(http, sip, file_path, args.workers, began + args.deadline, n)
    took = time.monotonic() - began
    if not ok:
        diagnose(proc.pid, log)
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=args.stop_deadline)
        slow = False
    except subprocess.TimeoutExpired:
        slow = True
        for p in reversed(tree(proc.pid)):
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.wait()
    with tally.lock:
        if ok:
            tally.good += 1
            tally.start_seconds.append(took)
        else:
            tally.hangs.append(str(log))
            print(f"start {n}: HANG (log kept: {log})", flush=True)
        if slow:
            tally.slow_stops.append(str(log))
            print(f"start {n}: stop took over {args.stop_deadline}s", flush=True)
        done = tally.good + len(tally.hangs)
        if done % 50 == 0:
            print(f"{done} starts: {tally.good} good, {len(tally.hangs)} hangs", flush=True)
    if ok and not slow:
        log.unlink()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=1000)
    parser.add_argument("--parallel", type=int, default=2, help="starts at a time")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--deadline", type=float, default=20.0, help="seconds to get ready")
    parser.add_argument("--stop-deadline", type=float, default=15.0)
    parser.add_argument("--logs", type=Path, help="where hung starts' logs go (default: temp)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="provedge-start-loop-"))
    logs = args.logs or work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    data = work / "data"
    file_path = prepare(data)
    tally = Tally()
    began = time.monotonic()
    with ThreadPoolExecutor(args.parallel) as pool:
        for future in [
            pool.submit(one_start, n, args, data, file_path, logs, tally)
            for n in range(args.starts)
        ]:
            future.result()
    starts = sorted(tally.start_seconds)
    median = starts[len(starts) // 2] if starts else float("nan")
    print(
        f"{args.starts} starts of --workers {args.workers} ({args.parallel} at a time, "
        f"{time.monotonic() - began:.0f} s): {tally.good} good, {len(tally.hangs)} hangs, "
        f"{len(tally.slow_stops)} slow stops; median time to ready {median:.2f} s"
    )
    for path in tally.hangs:
        print("hang:", path)
    shutil.rmtree(data)
    return 1 if tally.hangs or tally.slow_stops else 0


if __name__ == "__main__":
    sys.exit(main())
