"""The ``provedge`` command: run the control plane and the edge, and manage API tokens.

argparse (standard library) is enough here: sub-commands, typed options, ``--help`` on
every command, and exit code 2 with a clear message on bad arguments.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

TOKEN_FILE = "operator-token"

# Each command imports what it runs inside its function: `provedge edge` must load nothing
# from control/ (the edge reads LMDB only), and `--help` stays instant.


def _data_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data", required=True, metavar="DIR", help="data directory (SQLite + LMDB)"
    )


def _edge_url(args: argparse.Namespace, edge_port: int) -> str:
    return args.edge_url or f"http://{args.host}:{edge_port}"


def cmd_control(args: argparse.Namespace) -> int:
    import uvicorn

    from control.api.app import create_app
    from control.wiring import build_control

    ctl = build_control(args.data, _edge_url(args, args.edge_port), run_jobs=True)
    uvicorn.run(
        create_app(ctl),
        host=args.host,
        port=args.port,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
    )
    return 0


def cmd_edge(args: argparse.Namespace) -> int:
    from edge.http.server import serve

    serve(args.data, args.host, args.port, args.workers, args.sip_port or None)
    return 0


def cmd_token_create(args: argparse.Namespace) -> int:
    from control.api.auth import create_token
    from control.domain.errors import ServiceError
    from control.domain.refs import parse_ref
    from control.service import find_tenant
    from control.storage.db import Database

    db = Database(args.data)
    tenant_id = None
    if args.tenant is not None:
        ref = parse_ref(args.tenant)  # a string is always an id or a name
        try:
            with db.transaction() as conn:
                tenant_id = int(find_tenant(conn, ref)["id"])
        except ServiceError:
            print(f"provedge: no tenant {args.tenant!r}", file=sys.stderr)
            return 2
    if args.role != "operator" and tenant_id is None:
        print("provedge: --tenant is required for role " + args.role, file=sys.stderr)
        return 2
    print(create_token(db, args.role, tenant_id, args.label))
    return 0


def prepare_data(data: str, edge_url: str) -> Path | None:
    """On an empty data directory: load the demo and write an operator token file."""
    from control.api.auth import create_token
    from control.demo import is_empty, load_demo
    from control.wiring import build_control

    ctl = build_control(data, edge_url)
    if not is_empty(ctl):
        ctl.close()
        return None
    load_demo(ctl)
    token_path = Path(data) / TOKEN_FILE
    token_path.write_text(create_token(ctl.db, "operator", label="make run") + "\n")
    token_path.chmod(0o600)
    ctl.close()
    return token_path


def _wait_ready(url: str, deadline: float) -> bool:
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                return bool(response.status == 200)
        except OSError:
            time.sleep(0.1)
    return False


def _print_banner(args: argparse.Namespace, edge_url: str) -> None:
    from control.demo import DEMO_PHONES
    from control.wiring import build_control

    ctl = build_control(args.data, edge_url)
    control_url = f"http://{args.host}:{args.control_port}"
    print(
        f"provedge control API : {control_url}/api/v1/  (OpenAPI: {control_url}/api/v1/openapi.json)"
    )
    print(f"provedge edge        : {edge_url}/p/<tenant key>/<file>")
    print(f"SIP port             : {args.sip_port}")
    token_path = Path(args.data) / TOKEN_FILE
    if token_path.exists():
        print(
            f'operator token       : in {token_path} (curl -H "Authorization: Bearer $(cat {token_path})" ...)'
        )
    demo = ctl.list_devices("demo")["items"] if any(t["name"] == "demo" for t in ctl.list_tenants()) else []
    yealink = next((d for d in demo if d["model"] == DEMO_PHONES[0][0]), None)
    if yealink:
        print(
            f"demo config          : curl -A 'Yealink SIP-T46S 66.86.0.15 {DEMO_PHONES[0][1]}' "
            f"{yealink['provisioning_url']}{yealink['mac']}.cfg"
        )
    ctl.close()


def cmd_run(args: argparse.Namespace) -> int:
    edge_url = _edge_url(args, args.edge_port)
    Path(args.data).mkdir(parents=True, exist_ok=True)
    prepare_data(args.data, edge_url)
    common = ["--data", args.data, "--host", args.host]
    me = [sys.executable, "-m", "provedge.cli"]
    children = [
        subprocess.Popen(
            [*me, "control", *common, "--port", str(args.control_port), "--edge-url", edge_url]
        ),
        subprocess.Popen(
            [
                *me,
                "edge",
                *common,
                "--port",
                str(args.edge_port),
                "--sip-port",
                str(args.sip_port),
                "--workers",
                str(args.workers),
            ]
        ),
    ]
    stop = False

    def _stop(signum: int, frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    deadline = time.monotonic() + 30
    if _wait_ready(f"http://{args.host}:{args.control_port}/healthz", deadline) and _wait_ready(
        f"{edge_url}/healthz", deadline
    ):
        _print_banner(args, edge_url)
        sys.stdout.flush()
    while not stop and all(child.poll() is None for child in children):
        time.sleep(0.2)
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for child in children:
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
    return max((child.returncode or 0) for child in children) if not stop else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="provedge", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run the control plane and the edge together")
    _data_arg(run)
    run.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    run.add_argument("--control-port", type=int, default=8080)
    run.add_argument("--edge-port", type=int, default=8081)
    run.add_argument("--sip-port", type=int, default=5060, help="SIP over UDP and TCP (0: off)")
    run.add_argument("--workers", type=int, default=1, help="edge worker processes on one port")
    run.add_argument(
        "--edge-url", help="public base URL of the edge (default http://HOST:EDGE_PORT)"
    )
    run.set_defaults(func=cmd_run)

    control = sub.add_parser("control", help="run the control plane alone")
    _data_arg(control)
    control.add_argument("--host", default="127.0.0.1")
    control.add_argument("--port", type=int, default=8080)
    control.add_argument(
        "--edge-port", type=int, default=8081, help="used for the default --edge-url"
    )
    control.add_argument("--edge-url", help="public base URL of the edge, put in provisioning URLs")
    control.set_defaults(func=cmd_control)

    edge = sub.add_parser("edge", help="run the edge alone (serves what is in LMDB)")
    _data_arg(edge)
    edge.add_argument("--host", default="127.0.0.1")
    edge.add_argument("--port", type=int, default=8081)
    edge.add_argument("--sip-port", type=int, default=5060, help="SIP over UDP and TCP (0: off)")
    edge.add_argument("--workers", type=int, default=1)
    edge.set_defaults(func=cmd_edge)

    token = sub.add_parser("token", help="manage API tokens")
    token_sub = token.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    create = token_sub.add_parser("create", help="create a token and print it (last line)")
    _data_arg(create)
    create.add_argument("--role", required=True, choices=["operator", "tenant_admin", "end_user"])
    create.add_argument("--tenant", help="tenant id or name (required unless --role operator)")
    create.add_argument("--label", default="", help="a note on what the token is for")
    create.set_defaults(func=cmd_token_create)

    from provedge.jobs_cli import add_commands  # imports nothing heavy at module level

    add_commands(sub, _data_arg)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    for name in ("workers", "port", "control_port", "edge_port", "sip_port"):
        value = getattr(args, name, None)
        low = 0 if name == "sip_port" else 1
        if value is not None and not (low <= value <= (64 if name == "workers" else 65535)):
            print(f"provedge: --{name.replace('_', '-')} out of range: {value}", file=sys.stderr)
            return 2
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
