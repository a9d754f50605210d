"""The installed `provedge` command: help everywhere, exit code 2 on bad input, tokens."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

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
