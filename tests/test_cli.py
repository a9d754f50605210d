"""The installed `provedge` command: help everywhere, exit code 2 on bad input, tokens
(create, list and revoke, the last against a real `provedge run`)."""

from __future__ import annotations

import secrets
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import start_provedge, stop_provedge

PROVEDGE = str(Path(sys.executable).parent / "provedge")  # the installed entry point


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PROVEDGE, *args], capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize(
    "args", [(), ("run",), ("control",), ("edge",), ("token",), ("token", "create")]
)
def test_help_on_every_command(args: tuple[str, ...]) -> None:
    result = run(*args, "--help")
    assert result.returncode == 0
    assert "usage: provedge" in result.stdout


@pytest.mark.parametrize(
    "args",
    [
        ("run",),
        ("nonsense",),
        ("run", "--data", "x", "--edge-port", "0"),
        ("edge", "--data", "x", "--workers", "-1"),
        ("token", "create", "--data", "x", "--role", "god"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(args: tuple[str, ...]) -> None:
    result = run(*args)
    assert result.returncode == 2
    assert "provedge" in result.stderr


def test_token_create_prints_the_token_last(tmp_path: Path) -> None:
    result = run("token", "create", "--data", str(tmp_path), "--role", "operator")
    assert result.returncode == 0
    token = result.stdout.strip().splitlines()[-1]
    assert token.startswith("pe_") and len(token) > 30
    scoped = run(
        "token", "create", "--data", str(tmp_path), "--role", "tenant_admin", "--tenant", "nope"
    )
    assert scoped.returncode == 2 and "no tenant" in scoped.stderr


def test_token_list_and_revoke_against_a_running_server(tmp_path: Path) -> None:
    """A token made by the CLI works against a real `provedge run`; `token list` shows
    it without its secret; once `token revoke`d it no longer authenticates."""
    server = start_provedge(tmp_path / "data")
    data = str(server.data)
    try:
        label = "cli-" + secrets.token_hex(4)
        made = run("token", "create", "--data", data, "--role", "operator", "--label", label)
        assert made.returncode == 0, made.stderr
        token = made.stdout.strip().splitlines()[-1]
        bearer = {"Authorization": f"Bearer {token}"}
        assert httpx.get(f"{server.control}/api/v1/tenants", headers=bearer).status_code == 200
        listed = run("token", "list", "--data", data)
        assert listed.returncode == 0, listed.stderr
        mine = [line for line in listed.stdout.splitlines() if line.endswith(label)]
        assert len(mine) == 1 and " operator " in mine[0], listed.stdout
        assert token not in listed.stdout and token[3:] not in listed.stdout
        token_id = mine[0].split()[0]
        assert len(token_id) == 12
        revoked = run("token", "revoke", "--data", data, token_id)
        assert revoked.returncode == 0 and revoked.stdout.strip() == f"revoked {token_id}"
        after = httpx.get(f"{server.control}/api/v1/tenants", headers=bearer)
        assert after.status_code == 401
        assert label not in run("token", "list", "--data", data).stdout
        again = run("token", "revoke", "--data", data, token_id)
        assert again.returncode == 2 and f"no token {token_id!r}" in again.stderr
        with server.api() as api:  # the operator's own token is untouched
            assert api.get("/api/v1/tenants").status_code == 200
    finally:
        stop_provedge(server)
