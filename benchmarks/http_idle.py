"""Hold N idle TCP connections to a real edge and watch fetches and closures (issue 19).

Starts `provedge run` on free loopback ports (the tests' way), publishes one phone, opens
N connections to the edge's HTTP port that send nothing, then every few seconds tries 10
fetches (new connection each, 2 s timeout) and counts the idle connections the edge has
closed. Extra arguments go to `provedge run` (say `--http-header-timeout-s 30`).

Not part of the test suite (it runs for as long as ``--seconds``). Example:

    .venv/bin/python benchmarks/http_idle.py --idle 2000 --seconds 30
"""

from __future__ import annotations

import argparse
import resource
import socket
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.conftest import start_provedge, stop_provedge
from tests.test_fetch_counters import UA, phone

TRIES = 10


def closed(sock: socket.socket) -> bool:
    try:
        return sock.recv(1, socket.MSG_PEEK) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle", type=int, default=2000, help="idle connections to hold")
    parser.add_argument("--seconds", type=float, default=30.0, help="how long to watch")
    args, extra = parser.parse_known_args(argv)
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the edge inherits it too
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        server = start_provedge(data, *extra)
        socks: list[socket.socket] = []
        try:
            url = phone(server, "idle")
            port = int(server.edge.rsplit(":", 1)[1])
            started = time.monotonic()
            for _ in range(args.idle):
                socks.append(socket.create_connection(("127.0.0.1", port), timeout=10))
                socks[-1].setblocking(False)
            print(f"opened {args.idle} idle connections in {time.monotonic() - started:.2f} s")
            while time.monotonic() < started + args.seconds:
                ok = 0
                for _ in range(TRIES):
                    headers = {"User-Agent": UA, "Connection": "close"}
                    try:
                        ok += httpx.get(url, headers=headers, timeout=2).status_code == 200
                    except httpx.HTTPError:
                        pass
                shut = sum(closed(sock) for sock in socks)
                print(
                    f"t={time.monotonic() - started:6.1f} s  fetches {ok}/{TRIES}  "
                    f"idle closed {shut}/{args.idle}",
                    flush=True,
                )
                time.sleep(3)
        finally:
            for sock in socks:
                sock.close()
            stop_provedge(server)
    return 0


if __name__ == "__main__":
    sys.exit(main())
