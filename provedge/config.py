"""One Config: every choice of the edge and the control plane, resolved once.

Like uvicorn's ``Config``: each setting is declared once, below, as a field of
:class:`Config` with its default, help text and the commands that take it; the
argparse options of ``provedge run``, ``control`` and ``edge``, the ``PROVEDGE_<NAME>``
environment variables and the table in docs/configuration.md all come from that
declaration. A value is taken from the command line, else from its environment
variable, else from its default; a bad value is a :class:`ConfigError` (exit code 2).

The resolved Config travels to other processes as one value: ``to_env()`` gives the
single ``PROVEDGE_CONFIG`` variable (JSON) that ``from_env()`` turns back into the same
Config (the edge's worker processes start that way). The edge imports this module; it
imports nothing from control/ or edge/.
"""

from __future__ import annotations

import argparse
import dataclasses
import ipaddress
import os
import sys
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

CONFIG_ENV = "PROVEDGE_CONFIG"
ENV_PREFIX = "PROVEDGE_"
# aiohttp-style switch that forces the pure-Python twins: the older spelling of accel=py.
NO_EXTENSIONS_ENV = "PROVEDGE_NO_EXTENSIONS"
COMMANDS = ("run", "control", "edge")
_SERVERS = COMMANDS
_EDGE = ("run", "edge")
_CONTROL = ("run", "control")
_TRUE = ("1", "on", "true", "yes")
_FALSE = ("0", "off", "false", "no")


class ConfigError(ValueError):
    """A setting with a value it cannot take; the message names the setting."""


@dataclass(frozen=True)
class Setting:
    """How one Config field is given: its flag, environment variable, checks and help."""

    name: str
    kind: type
    default: Any
    help: str
    commands: tuple[str, ...]
    choices: tuple[str, ...] = ()
    low: int | None = None
    high: int | None = None
    flags: Mapping[str, str] = field(default_factory=dict)  # command -> its short flag
    prefixes: tuple[str, ...] = ()  # text that must start with one of these
    address: bool = False  # text that must be an IP address

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()

    def flags_for(self, command: str) -> list[str]:
        short = self.flags.get(command)
        return [short, self.flag] if short else [self.flag]

    def parse(self, text: str) -> Any:
        """A value from its text (flag or environment); ValueError says what is wrong."""
        if self.kind is bool:
            if text.lower() in _TRUE:
                return True
            if text.lower() in _FALSE:
                return False
            raise ValueError(f"not on or off: {text!r}")
        if self.kind is int:
            try:
                value: Any = int(text, 10)
            except ValueError:
                raise ValueError(f"not a whole number: {text!r}") from None
        else:
            value = text
        self.check(value)
        return value

    def check(self, value: Any) -> None:
        if self.choices and value not in self.choices:
            raise ValueError(f"{value!r} is not one of {', '.join(self.choices)}")
        if self.low is not None and value < self.low or self.high is not None and value > self.high:
            raise ValueError(f"out of range: {value} (allowed {self.low}..{self.high})")
        if self.prefixes and not value.startswith(self.prefixes):
            raise ValueError(f"{value!r} does not start with {' or '.join(self.prefixes)}")
        if self.address:
            try:
                ipaddress.ip_address(value)
            except ValueError:
                raise ValueError(f"not an IP address: {value!r}") from None

    def default_text(self) -> str:
        if self.default == "":
            return "required"
        if self.default is None:
            return "none"
        if self.kind is bool:
            return "on" if self.default else "off"
        return str(self.default)


def _setting(default: Any, help: str, commands: tuple[str, ...], **more: Any) -> Any:
    return field(default=default, metadata={"setting": (help, commands, more)})


@dataclass(frozen=True, kw_only=True)
class Config:
    """Every setting of the edge and the control plane; the declaration is the source."""

    data: str = _setting(
        "", "data directory (SQLite, LMDB)", (*_SERVERS, "token", "jobs", "loadtest")
    )
    host: str = _setting("127.0.0.1", "address the servers listen on", (*_SERVERS, "loadtest"))
    control_port: int = _setting(
        8080, "TCP port of the control API", _CONTROL, low=1, high=65535,
        flags={"control": "--port"},
    )  # fmt: skip
    edge_port: int = _setting(
        8081, "TCP port of the edge (HTTP); the control plane uses it for the default edge_url",
        (*_SERVERS, "loadtest"), low=1, high=65535, flags={"edge": "--port"},
    )  # fmt: skip
    tls_cert: str | None = _setting(
        None, "PEM certificate (chain) of the edge's HTTPS listener (docs/configuration.md, TLS)",
        _EDGE,
    )  # fmt: skip
    tls_key: str | None = _setting(None, "PEM private key of --tls-cert", _EDGE)
    tls_client_ca: str | None = _setting(
        None, "PEM CA bundle: HTTPS clients must present a certificate it signed, naming the "
        "MAC of the per-MAC files they fetch (subject CN or a SAN)", _EDGE,
    )  # fmt: skip
    edge_tls_port: int = _setting(
        0, "TCP port of the edge's HTTPS listener, beside HTTP on --edge-port (0: with "
        "--tls-cert, HTTPS on --edge-port instead of HTTP)", _EDGE, low=0, high=65535,
    )  # fmt: skip
    edge_url: str | None = _setting(
        None,
        "public base URL phones reach the edge at, put in provisioning URLs "
        "(default http://HOST:EDGE_PORT); a change republishes every file",
        (*_CONTROL, "loadtest"), prefixes=("http://", "https://"),
    )  # fmt: skip
    edge_public_ip: str | None = _setting(
        None,
        "the edge's public IP address, in the provisioning URLs of tenants whose "
        "provision_mode is public_ip; a change republishes every file",
        _CONTROL, address=True,
    )  # fmt: skip
    sip: bool = _setting(True, "SIP listeners (UDP and TCP) in the edge", _EDGE)
    sip_port: int = _setting(5060, "SIP port, UDP and TCP (0: SIP off)", _EDGE, low=0, high=65535)
    pnp_multicast: bool = _setting(
        False, "answer plug-and-play SUBSCRIBEs multicast to 224.0.1.75 on the SIP port too "
        "(joined on the interface of --host; one worker per host joins)", _EDGE,
    )  # fmt: skip
    digest_nonce_s: int = _setting(
        300, "seconds a digest nonce (SIP, and HTTP second stage: docs/delivery.md) is valid; "
        "older ones get a stale=true challenge",
        _EDGE, low=1, high=3600,
    )  # fmt: skip
    digest_prefer: str = _setting(
        "MD5", "digest algorithm challenged first (both MD5 and SHA-256 are offered; phones "
        "that read only the first challenge often know only MD5)", _EDGE,
        choices=("MD5", "SHA-256"),
    )  # fmt: skip
    sip_tcp_idle_s: int = _setting(
        30, "seconds a SIP TCP connection that has not registered is kept after its last "
        "complete message", _EDGE, low=1, high=3600,
    )  # fmt: skip
    sip_tcp_flow_idle_s: int = _setting(
        300, "seconds a registered SIP TCP flow is kept without any bytes (the phone's CRLF "
        "keep-alives count, RFC 5626)", _EDGE, low=10, high=86400,
    )  # fmt: skip
    sip_tcp_max_per_address: int = _setting(
        1000, "SIP TCP connections one source address may hold in each worker (a NATed "
        "office's phones share one address)", _EDGE, low=1, high=1_000_000,
    )  # fmt: skip
    sip_tcp_max: int = _setting(
        10000, "SIP TCP connections each edge worker holds at most (at most half its file "
        "descriptors: the rest is HTTP's)", _EDGE, low=1, high=1_000_000,
    )  # fmt: skip
    http_header_timeout_s: int = _setting(
        10, "seconds an edge HTTP connection has to send a whole request head, from its "
        "start and again from the end of each response: it closes idle connections (no "
        "bytes, or none after a response) and slow ones", _EDGE, low=1, high=300,
    )  # fmt: skip
    http_send_timeout_s: int = _setting(
        30, "seconds an edge HTTP connection may leave answer bytes unacknowledged (a client "
        "that stops reading, or is gone) before the kernel closes it (TCP_USER_TIMEOUT)",
        _EDGE, low=1, high=3600,
    )  # fmt: skip
    http_max_connections: int = _setting(
        25_000, "HTTP connections each edge worker serves at once (one more is closed as "
        "soon as accepted; at most half its file descriptors: the rest is SIP's)", _EDGE,
        low=1, high=1_000_000,
    )  # fmt: skip
    http_backlog: int = _setting(
        4096, "connections waiting to be accepted on each worker's HTTP socket (the kernel "
        "caps it at net.core.somaxconn)", _EDGE, low=128, high=65535,
    )  # fmt: skip
    workers: int = _setting(1, "edge worker processes sharing its ports", _EDGE, low=1, high=64)
    loop: str = _setting(
        "auto", "event loop of the edge and the control plane (auto: uvloop when installed)",
        _SERVERS, choices=("auto", "uvloop", "asyncio"),
    )  # fmt: skip
    accel: str = _setting(
        "auto",
        "accelerators: c (compiled, required), py (pure-Python twins; also "
        f"{NO_EXTENSIONS_ENV}=1), auto (compiled when built)",
        _SERVERS, choices=("auto", "c", "py"),
    )  # fmt: skip
    max_body_bytes: int = _setting(
        1 << 20, "largest control API request body in bytes (larger: 413)", _CONTROL,
        low=1, high=1 << 30,
    )  # fmt: skip
    control_tls_cert: str | None = _setting(
        None, "PEM certificate (chain) of the control plane: it serves the API and the "
        "console over HTTPS, and the console's session cookie is Secure", _CONTROL,
        flags={"control": "--tls-cert"},
    )  # fmt: skip
    control_tls_key: str | None = _setting(
        None, "PEM private key of control_tls_cert", _CONTROL, flags={"control": "--tls-key"}
    )
    activation_days: int = _setting(
        7, "lifetime in days of an account's one-time activation link (the wizard)", _CONTROL,
        low=1, high=365,
    )  # fmt: skip
    log_level: str = _setting(
        "warning", "log level of the servers", _SERVERS,
        choices=("critical", "error", "warning", "info", "debug"),
    )  # fmt: skip

    def __post_init__(self) -> None:
        if not self.data:
            raise ConfigError(f"--data (or {ENV_PREFIX}DATA) is required")
        for setting in SETTINGS:
            try:
                if getattr(self, setting.name) is not None:
                    setting.check(getattr(self, setting.name))
            except ValueError as exc:
                raise ConfigError(f"{setting.flag}: {exc}") from None
        if (self.control_tls_cert is None) != (self.control_tls_key is None):
            raise ConfigError("--control-tls-cert and --control-tls-key go together")
        for name in ("control_tls_cert", "control_tls_key"):
            path = getattr(self, name)
            if path is not None and not os.path.isfile(path):
                raise ConfigError(f"{SETTING[name].flag}: no such file: {path}")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ConfigError("--tls-cert and --tls-key go together")
        if self.tls_cert is None and (self.tls_client_ca is not None or self.edge_tls_port):
            raise ConfigError("--tls-client-ca and --edge-tls-port need --tls-cert")
        if self.edge_tls_port and self.edge_tls_port in (self.edge_port, self.sip_port):
            raise ConfigError(f"--edge-tls-port {self.edge_tls_port} is taken by HTTP or SIP")
        if self.sip_enabled and self.sip_port == self.edge_port:
            # Both would bind the TCP port with SO_REUSEPORT and split its connections.
            raise ConfigError(f"--sip-port {self.sip_port} is the edge's HTTP port too")

    @property
    def sip_enabled(self) -> bool:
        return self.sip and self.sip_port != 0

    @property
    def sip_address(self) -> tuple[str, int] | None:
        return (self.host, self.sip_port) if self.sip_enabled else None

    @property
    def public_edge_url(self) -> str:
        return self.edge_url or self.edge_local_url

    @property
    def control_tls(self) -> bool:
        return self.control_tls_cert is not None

    @property
    def control_url(self) -> str:
        scheme = "https" if self.control_tls else "http"
        return f"{scheme}://{self.host}:{self.control_port}"

    @property
    def edge_local_url(self) -> str:
        """Where the edge answers on this host (edge_url may be a public name)."""
        return f"http://{self.host}:{self.edge_port}"

    # -- resolution ----------------------------------------------------------------------

    @classmethod
    def resolve(
        cls, command: str, given: Mapping[str, Any], environ: Mapping[str, str] = os.environ
    ) -> Config:
        """Flags (``given``, None where absent) win over environment, environment over defaults."""
        values: dict[str, Any] = {}
        for setting in SETTINGS:
            if command not in setting.commands:
                continue
            value = given.get(setting.name)
            value = _from_env(setting, environ) if value is None else value
            if value is not None:
                values[setting.name] = value
        if values.get("data"):
            values["data"] = os.path.abspath(values["data"])
        config = cls(**values)
        if command == "run" and config.control_port in (config.edge_port, config.sip_port):
            raise ConfigError(f"--control-port {config.control_port} is taken by the edge")
        return config

    def to_argv(self, command: str) -> list[str]:
        """The command-line flags that give ``command`` this Config's values."""
        argv: list[str] = []
        for setting in SETTINGS:
            value = getattr(self, setting.name)
            if command not in setting.commands or value is None:
                continue
            if setting.kind is bool:
                argv.append(setting.flag if value else "--no-" + setting.flag[2:])
            else:
                argv += [setting.flag, str(value)]
        return argv

    # -- one serialised value for other processes ----------------------------------------

    def to_env(self) -> dict[str, str]:
        return {CONFIG_ENV: orjson.dumps(dataclasses.asdict(self)).decode()}

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Config:
        try:
            values = orjson.loads(environ[CONFIG_ENV])
        except KeyError:
            raise ConfigError(f"{CONFIG_ENV} is not set") from None
        except orjson.JSONDecodeError as exc:
            raise ConfigError(f"{CONFIG_ENV} is not JSON: {exc}") from None
        if not isinstance(values, dict) or set(values) != set(SETTING):
            raise ConfigError(f"{CONFIG_ENV} does not hold every setting and nothing else")
        return cls(**values)

    # -- accelerators --------------------------------------------------------------------

    def apply_accel(self) -> None:
        """Set up the accelerator choice before edge/_accel.py loads any of them.

        The choice is made at import, from ``PROVEDGE_ACCEL``: it is written to this
        process's environment, which the worker processes inherit. An accelerator already
        imported the other way cannot be switched: that is a ConfigError.
        """
        for name in ("edge.fastrender", "edge.sipparse"):
            loaded = getattr(sys.modules.get(name), "IMPLEMENTATION", self.accel)
            if self.accel != "auto" and loaded != self.accel:
                raise ConfigError(f"--accel {self.accel}: {name} is already loaded as {loaded}")
        os.environ[SETTING["accel"].env] = self.accel


def _from_env(setting: Setting, environ: Mapping[str, str]) -> Any:
    """The setting's value from its environment variable, or None when it is not set."""
    if setting.env in environ:
        try:
            return setting.parse(environ[setting.env])
        except ValueError as exc:
            raise ConfigError(f"{setting.env}: {exc}") from None
    if setting.name == "accel" and NO_EXTENSIONS_ENV in environ:
        return "auto" if environ[NO_EXTENSIONS_ENV] in ("", "0") else "py"
    return None


def accel_from_env(environ: Mapping[str, str] = os.environ) -> str:
    """The accelerator choice the environment makes (edge/_accel.py reads it at import)."""
    return str(_from_env(SETTING["accel"], environ) or "auto")


def _declare() -> tuple[Setting, ...]:
    hints = typing.get_type_hints(Config)
    settings = []
    for f in dataclasses.fields(Config):
        help, commands, more = f.metadata["setting"]
        kind = hints[f.name]
        kind = kind if isinstance(kind, type) else str  # `str | None`: text, or absent
        settings.append(Setting(f.name, kind, f.default, help, commands, **more))
    return tuple(settings)


SETTINGS: tuple[Setting, ...] = _declare()
SETTING: dict[str, Setting] = {s.name: s for s in SETTINGS}


# -- argparse, generated from the declaration --------------------------------------------


def add_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    """Add ``command``'s options; an absent one stays None so that env and default apply."""
    for setting in SETTINGS:
        if command not in setting.commands:
            continue
        help = f"{setting.help} [env {setting.env}; default {setting.default_text()}]"
        if setting.kind is bool:
            parser.add_argument(
                *setting.flags_for(command), dest=setting.name, default=None,
                action=argparse.BooleanOptionalAction, help=help,
            )  # fmt: skip
            continue
        parser.add_argument(
            *setting.flags_for(command), dest=setting.name, default=None,
            type=_argparse_type(setting), help=help.replace("%", "%%"),
            metavar="{" + ",".join(setting.choices) + "}" if setting.choices else None,
        )  # fmt: skip


def _argparse_type(setting: Setting) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            return setting.parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = setting.kind.__name__
    return parse


def markdown_table() -> str:
    """The settings table of docs/configuration.md (a test keeps the two equal)."""
    rows = [
        "| setting | flag | environment | default | commands | what it sets |",
        "|---|---|---|---|---|---|",
    ]
    for s in SETTINGS:
        flags = f"`{s.flag}` / `--no-{s.flag[2:]}`" if s.kind is bool else f"`{s.flag}`"
        flags += "".join(f" (`{short}` in `{c}`)" for c, short in s.flags.items())
        choices = " (" + " \\| ".join(s.choices) + ")" if s.choices else ""
        rows.append(
            f"| `{s.name}` | {flags} | `{s.env}` | `{s.default_text()}`{choices} "
            f"| {', '.join(s.commands)} | {s.help} |"
        )
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(markdown_table(), end="")
