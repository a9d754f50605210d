"""The ``provedge`` command: run the control plane and the edge, and manage API tokens.

argparse (standard library) is enough here: sub-commands, typed options, ``--help`` on
every command, and exit code 2 with a clear message on bad arguments. The options of the
server commands are generated from the settings declared in provedge/config.py.
"""

from __future__ import annotations

import argparse
import getpass
import sys
import time
from collections.abc import Callable
from pathlib import Path

from provedge.config import Config, ConfigError, add_arguments

TOKEN_FILE = "operator-token"
# provedge/jobs_cli.py, devices_cli.py, accounts_cli.py, bans_cli.py, registrations_cli.py,
# reboot_cli.py: they take the data setting
JOB_COMMANDS = (
    "jobs", "recompile", "devices", "accounts", "bans", "registrations", "reboot", "backgrounds",
)  # fmt: skip

# Each command imports what it runs inside its function: `provedge edge` must load nothing
# from control/ (the edge reads LMDB only), and `--help` stays instant.


def cmd_control(config: Config) -> int:
    import uvicorn

    from control.api.app import create_app
    from control.wiring import build_control

    ctl = build_control(
        config.data,
        config.public_edge_url,
        run_jobs=True,
        activation_lifetime_s=config.activation_days * 86400,
        edge_ip=config.edge_public_ip,
    )
    uvicorn.run(
        create_app(ctl, max_body_bytes=config.max_body_bytes, secure_cookie=config.control_tls),
        host=config.host,
        port=config.control_port,
        ssl_certfile=config.control_tls_cert,
        ssl_keyfile=config.control_tls_key,
        loop=config.loop,
        http="httptools",
        log_level=config.log_level,
        access_log=False,
    )
    return 0


def cmd_edge(config: Config) -> int:
    from edge.http.server import serve

    return serve(config)


def cmd_token(config: Config, args: argparse.Namespace) -> int:
    """``provedge token create|list|revoke``: exit 2 with a message for a bad argument."""
    from control.api import auth
    from control.domain.errors import ServiceError
    from control.domain.refs import parse_ref
    from control.service import find_tenant
    from control.storage.db import Database

    db = Database(config.data)
    try:
        if args.token_command == "list":
            for t in auth.list_tokens(db):
                print(
                    f"{t['id']}  {t['role']:<12} tenant={t['tenant'] or '-'}"
                    f" account={t['account'] or '-'} expires={t['expires_at'] or 'never'}"
                    f"{' (expired)' if t['expired'] else ''} last_used={t['last_used_at'] or '-'}"
                    f"  {t['label']}"
                )
            return 0
        if args.token_command == "revoke":
            auth.revoke_token(db, args.id)
            print(f"revoked {args.id}")
            return 0
        tenant_id = None
        if args.tenant is not None:
            ref = parse_ref(args.tenant)  # a string is always an id or a name
            with db.read() as conn:
                tenant_id = int(find_tenant(conn, ref)["id"])
        expires_at = None if args.expires_days is None else time.time() + args.expires_days * 86400
        print(auth.create_token(db, args.role, tenant_id, args.label, args.account, expires_at))
        return 0
    except ServiceError as exc:
        field, reason = next(iter(exc.errors.items()))
        if field == "tenant" and exc.status == 404:
            reason = f"no tenant {args.tenant!r}"
        elif field == "id":
            reason = f"no token {args.id!r}"
        print(f"provedge token {args.token_command}: {field}: {reason}", file=sys.stderr)
        return 2
    finally:
        db.close()


def prepare_data(data: str, edge_url: str, edge_ip: str | None = None) -> Path | None:
    """On an empty data directory: load the demo and write an operator token file."""
    from control.api.auth import create_token
    from control.demo import is_empty, load_demo
    from control.wiring import build_control

    ctl = build_control(data, edge_url, edge_ip=edge_ip)
    if not is_empty(ctl):
        ctl.close()
        return None
    load_demo(ctl)
    token_path = Path(data) / TOKEN_FILE
    token_path.write_text(create_token(ctl.db, "operator", label="make run") + "\n")
    token_path.chmod(0o600)
    ctl.close()
    return token_path


def _print_banner(config: Config) -> None:
    from control.demo import DEMO_PHONES
    from control.wiring import build_control

    ctl = build_control(config.data, config.public_edge_url, edge_ip=config.edge_public_ip)
    control_url = config.control_url
    print(
        f"provedge control API : {control_url}/api/v1/  (OpenAPI: {control_url}/api/v1/openapi.json)"
    )
    print(f"provedge edge        : {config.public_edge_url}/p/<tenant key>/<file>")
    print(f"SIP port             : {config.sip_port if config.sip_enabled else 'off'}")
    token_path = Path(config.data) / TOKEN_FILE
    if token_path.exists():
        print(
            f'operator token       : in {token_path} (curl -H "Authorization: Bearer $(cat {token_path})" ...)'
        )
    demo = (
        ctl.list_devices("demo")["items"]
        if any(t["name"] == "demo" for t in ctl.list_tenants())
        else []
    )
    yealink = next((d for d in demo if d["model"] == DEMO_PHONES[0][0]), None)
    if yealink:
        print(
            f"demo config          : curl -A 'Yealink SIP-T46S 66.86.0.15 {DEMO_PHONES[0][1]}' "
            f"{yealink['provisioning_url']}{yealink['mac']}.cfg"
        )
    ctl.close()


def cmd_run(config: Config) -> int:
    from provedge.supervisor import Supervisor

    Path(config.data).mkdir(parents=True, exist_ok=True)
    prepare_data(config.data, config.public_edge_url, config.edge_public_ip)
    me = [sys.executable, "-m", "provedge.cli"]
    supervisor = Supervisor(
        {
            "control plane": ([*me, "control", *config.to_argv("control")], config.control_url),
            "edge": ([*me, "edge", *config.to_argv("edge")], config.edge_local_url),
        }
    )
    return supervisor.run(on_ready=lambda: _print_banner(config))


SERVERS: dict[str, tuple[str, Callable[[Config], int]]] = {
    "run": ("run the control plane and the edge together, the edge outliving the other", cmd_run),
    "control": ("run the control plane alone", cmd_control),
    "edge": ("run the edge alone (serves what is in LMDB)", cmd_edge),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="provedge",
        description=__doc__.splitlines()[0],
        epilog="Settings: docs/configuration.md (flags win over PROVEDGE_* variables).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (help, _) in SERVERS.items():
        add_arguments(sub.add_parser(name, help=help, description=help), name)

    token = sub.add_parser("token", help="manage API tokens")
    token_sub = token.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    create = token_sub.add_parser("create", help="create a token and print it (last line)")
    add_arguments(create, "token")
    create.add_argument("--role", required=True, choices=["operator", "tenant_admin", "end_user"])
    create.add_argument("--tenant", help="tenant id or name (required unless --role operator)")
    create.add_argument("--label", default="", help="a note on what the token is for")
    create.add_argument(
        "--account", help="role end_user: the username of the SIP account it is bound to"
    )
    create.add_argument(
        "--expires-days", type=float, help="valid for this many days (default: no expiry)"
    )
    listing = token_sub.add_parser("list", help="list tokens (ids, roles, expiry, last use)")
    add_arguments(listing, "token")
    revoke = token_sub.add_parser("revoke", help="revoke a token by its id (from list)")
    add_arguments(revoke, "token")
    revoke.add_argument("id", help="the token's id: 12 hex digits")

    from provedge.jobs_cli import add_commands  # imports nothing heavy at module level

    add_commands(sub, lambda parser: add_arguments(parser, "jobs"))
    from provedge.devices_cli import add_commands as add_devices

    add_devices(sub, lambda parser: add_arguments(parser, "jobs"))
    from provedge.accounts_cli import add_commands as add_accounts

    add_accounts(sub, lambda parser: add_arguments(parser, "jobs"))
    from provedge.backgrounds_cli import add_commands as add_backgrounds

    add_backgrounds(sub, lambda parser: add_arguments(parser, "jobs"))
    from provedge.bans_cli import add_commands as add_bans

    add_bans(sub, lambda parser: add_arguments(parser, "jobs"))
    from provedge.registrations_cli import add_commands as add_registrations

    add_registrations(sub, lambda parser: add_arguments(parser, "jobs"))
    from provedge.reboot_cli import add_commands as add_reboot

    add_reboot(sub, lambda parser: add_arguments(parser, "jobs"))
    from provedge.loadtest_cli import add_commands as add_loadtest

    add_loadtest(sub, lambda parser: add_arguments(parser, "loadtest"))
    return parser


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no name for this uid (a bare container)
        return ""


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    command = "jobs" if args.command in JOB_COMMANDS else args.command
    try:
        config = Config.resolve(command, vars(args))
        if args.command in SERVERS:
            config.apply_accel()  # before anything imports an accelerator
    except ConfigError as exc:
        print(f"provedge {args.command}: {exc}", file=sys.stderr)
        return 2
    if args.command == "edge":
        return cmd_edge(config)  # before anything imports control/: the edge reads LMDB only
    from control.storage.audit import Actor, acting

    # What the command changes is recorded in the audit trail as the CLI's, with the OS
    # user (the control plane's requests and jobs record their own actors).
    with acting(Actor("cli", _os_user())):
        if args.command == "token":
            return cmd_token(config, args)
        if command in ("jobs", "loadtest"):
            args.data = config.data
            if command == "loadtest":
                args.edge_url = config.public_edge_url
            return int(args.func(args))
        return SERVERS[args.command][1](config)


if __name__ == "__main__":
    sys.exit(main())
