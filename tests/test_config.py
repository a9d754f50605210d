"""provedge.config: one declaration gives flags, environment, checks and the docs table."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from provedge.cli import build_parser
from provedge.config import CONFIG_ENV, SETTINGS, Config, ConfigError, markdown_table
from tests.conftest import READY_TIMEOUT, free_port, wait_ready

DOCS = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"


def resolve(argv: list[str], environ: dict[str, str] | None = None) -> Config:
    args = build_parser().parse_args(argv)
    return Config.resolve(args.command, vars(args), environ or {})


def test_every_setting_is_documented_and_every_documented_setting_exists() -> None:
    text = DOCS.read_text()
    documented = re.findall(r"^\| `([a-z_]+)` \|", text, re.MULTILINE)
    assert documented == [s.name for s in SETTINGS]
    assert markdown_table() in text  # flags, variables and defaults as declared


def test_flags_win_over_environment_and_environment_over_defaults(tmp_path: Path) -> None:
    environ = {"PROVEDGE_WORKERS": "3", "PROVEDGE_LOOP": "asyncio", "PROVEDGE_DATA": "x"}
    config = resolve(["edge", "--data", str(tmp_path), "--workers", "2"], environ)
    assert (config.data, config.workers, config.loop) == (str(tmp_path), 2, "asyncio")
    assert (config.edge_port, config.sip_port, config.accel) == (8081, 5060, "auto")
    assert resolve(["edge"], {"PROVEDGE_DATA": "rel"}).data == os.path.abspath("rel")


def test_short_port_flags_of_the_single_servers(tmp_path: Path) -> None:
    assert resolve(["control", "--data", str(tmp_path), "--port", "9000"]).control_port == 9000
    assert resolve(["edge", "--data", str(tmp_path), "--port", "9001"]).edge_port == 9001
    assert resolve(["run", "--data", str(tmp_path), "--edge-port", "9002"]).edge_port == 9002


def test_accel_env_forms(tmp_path: Path) -> None:
    argv = ["edge", "--data", str(tmp_path)]
    assert resolve(argv, {"PROVEDGE_NO_EXTENSIONS": "1"}).accel == "py"
    assert resolve(argv, {"PROVEDGE_NO_EXTENSIONS": "0"}).accel == "auto"
    both = {"PROVEDGE_NO_EXTENSIONS": "1", "PROVEDGE_ACCEL": "c"}
    assert resolve(argv, both).accel == "c"
    assert resolve([*argv, "--accel", "c"], {"PROVEDGE_NO_EXTENSIONS": "1"}).accel == "c"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"PROVEDGE_WORKERS": "many"}, "PROVEDGE_WORKERS: not a whole number"),
        ({"PROVEDGE_WORKERS": "65"}, "PROVEDGE_WORKERS: out of range"),
        ({"PROVEDGE_LOOP": "trio"}, "PROVEDGE_LOOP: 'trio' is not one of"),
        ({"PROVEDGE_SIP": "maybe"}, "PROVEDGE_SIP: not on or off"),
        ({"PROVEDGE_EDGE_URL": "ftp://x"}, "PROVEDGE_EDGE_URL: 'ftp://x' does not start"),
    ],
)
def test_bad_environment_values_name_the_variable(
    tmp_path: Path, environ: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        resolve(["run", "--data", str(tmp_path)], environ)


def test_ports_that_collide_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="edge's HTTP port"):
        resolve(["edge", "--data", str(tmp_path), "--port", "7000", "--sip-port", "7000"])
    with pytest.raises(ConfigError, match="taken by the edge"):
        resolve(["run", "--data", str(tmp_path), "--control-port", "7000", "--edge-port", "7000"])
    config = resolve(["edge", "--data", str(tmp_path), "--port", "7000", "--sip-port", "0"])
    assert config.sip_address is None


def test_round_trip_through_the_one_variable(tmp_path: Path) -> None:
    config = resolve(["run", "--data", str(tmp_path), "--workers", "4", "--no-sip"])
    assert Config.from_env(config.to_env()) == config
    assert list(config.to_env()) == [CONFIG_ENV]
    with pytest.raises(ConfigError, match="every setting"):
        Config.from_env({CONFIG_ENV: '{"data": "x"}'})


def test_to_argv_gives_the_child_the_same_config(tmp_path: Path) -> None:
    config = resolve(["run", "--data", str(tmp_path), "--loop", "asyncio", "--no-sip"])
    for command in ("control", "edge"):
        child = resolve([command, *config.to_argv(command)])
        for setting in SETTINGS:
            if command in setting.commands:
                assert getattr(child, setting.name) == getattr(config, setting.name)


def _provedge(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "provedge.cli", *args],
        capture_output=True, text=True, timeout=60, check=False, env={**os.environ, **env},
    )  # fmt: skip


def test_bad_environment_value_exits_2(tmp_path: Path) -> None:
    result = _provedge("edge", "--data", str(tmp_path), PROVEDGE_WORKERS="0")
    assert result.returncode == 2
    assert "provedge edge: PROVEDGE_WORKERS: out of range" in result.stderr


def test_help_shows_every_setting_of_the_command() -> None:
    out = _provedge("edge", "--help").stdout
    for setting in SETTINGS:
        assert (setting.env in out) == ("edge" in setting.commands)


@pytest.mark.parametrize("accel", ["py", "c"])
def test_accel_is_set_up_before_the_accelerators_load(tmp_path: Path, accel: str) -> None:
    code = (
        "import sys; from provedge.cli import build_parser; from provedge.config import Config;"
        "args = build_parser().parse_args(sys.argv[1:]);"
        "Config.resolve(args.command, vars(args)).apply_accel();"
        "import edge.sipparse, edge.fastrender, edge.httphead;"
        "print(edge.sipparse.IMPLEMENTATION, edge.fastrender.IMPLEMENTATION,"
        " edge.httphead.IMPLEMENTATION)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, "edge", "--data", str(tmp_path), "--accel", accel],
        capture_output=True, text=True, check=True,
        env={**os.environ, "PROVEDGE_NO_EXTENSIONS": "1" if accel == "c" else "0"},
    ).stdout  # fmt: skip
    assert out.split() == [accel, accel, accel]


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_edge_workers_run_the_configured_loop(tmp_path: Path, loop: str) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "provedge.cli", "edge", "--data", str(tmp_path),
         "--port", str(port), "--no-sip", "--loop", loop],
    )  # fmt: skip
    try:
        wait_ready(f"http://127.0.0.1:{port}/healthz", proc, time.monotonic() + READY_TIMEOUT)
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").json()["loop"] == loop
    finally:
        proc.terminate()
        proc.wait(timeout=15)
