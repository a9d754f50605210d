"""Firewall settings, manual bans and lifts: what the control plane publishes for the edge.

The control plane never writes the edge state (the edge's writer owns it). What an
operator decides about bans travels the house's one way, control -> published LMDB ->
edge: the publisher keeps the ``firewall`` sub-database of ``DATA/lmdb`` (one owner,
``firewall``, so a publish replaces the whole set atomically) and the edge-state writer
(edge/state/bans.py) and every worker (edge/sip/firewall.py) read it.

Keys (UTF-8 text) and values:

- ``settings``: orjson ``{"v": 1, "max_failures": 20, "window_s": 60, "ban_s": 3600,
  "trusted": [CIDR, ...], "tenants": {"<tenant id>": {any of max_failures, window_s,
  ban_s, trusted}}}``. A tenant's field overrides the global one; its trusted networks
  add to the global ones.
- ``ban/<address>``: a manual ban, the bans record (provedge/formats/bans.py, reason
  ``manual``). The writer copies it into the edge state's ``bans`` while ``until`` is ahead.
- ``lift/<address>``: orjson ``{"at": epoch seconds}``: an operator lifted the bans of that
  address made at or before ``at``; the writer deletes them and forgets the address's
  failures up to then.

A failure is judged under the policy of the tenant it concerns (``tenant`` of the failure;
none: the global policy): the address is banned for ``ban_s`` seconds once
``max_failures`` failures from it fall within ``window_s`` seconds. An address in a
trusted network of that policy is never banned.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

FIREWALL_DB = b"firewall"
OWNER = "firewall"
SETTINGS_KEY = b"settings"
BAN_PREFIX = "ban/"
LIFT_PREFIX = "lift/"
VERSION = 1

# The documented defaults (docs/firewall.md): 20 failures within 60 s ban for an hour.
DEFAULT_MAX_FAILURES = 20
DEFAULT_WINDOW_S = 60
DEFAULT_BAN_S = 3600
LIMITS = {"max_failures": (1, 100_000), "window_s": (1, 86_400), "ban_s": (1, 604_800)}
MAX_BAN_S = LIMITS["ban_s"][1]  # lifts older than this cannot lift anything any more

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class Policy:
    max_failures: int = DEFAULT_MAX_FAILURES
    window_s: float = DEFAULT_WINDOW_S
    ban_s: float = DEFAULT_BAN_S
    trusted: tuple[Network, ...] = ()

    def trusts(self, address: str) -> bool:
        try:
            host = ipaddress.ip_address(address)
        except ValueError:
            return False
        if isinstance(host, ipaddress.IPv6Address) and host.ipv4_mapped is not None:
            host = host.ipv4_mapped
        return any(host in network for network in self.trusted)


@dataclass(frozen=True, slots=True)
class Settings:
    """The decoded ``settings`` record, with each tenant's policy resolved once."""

    default: Policy = field(default_factory=Policy)
    tenants: Mapping[int, Policy] = field(default_factory=dict)

    def policy(self, tenant: int | None) -> Policy:
        return self.tenants.get(tenant, self.default) if tenant else self.default


DEFAULT_SETTINGS = Settings()


def networks(texts: Iterable[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(text, strict=False) for text in texts)


def settings_record(values: Mapping[str, Any], tenants: Mapping[int, Mapping[str, Any]]) -> bytes:
    """The ``settings`` value; ``values`` holds the global fields, ``tenants`` overrides."""
    record = {"v": VERSION, **values, "tenants": {str(k): dict(v) for k, v in tenants.items()}}
    return orjson.dumps(record)


def decode_settings(raw: bytes | memoryview | None) -> Settings:
    """The settings of a record; the defaults when there is none (nothing published yet)."""
    if raw is None:
        return DEFAULT_SETTINGS
    record = orjson.loads(bytes(raw))
    if record.get("v") != VERSION:
        raise ValueError("not a version-1 firewall settings record")
    default = Policy(
        int(record.get("max_failures", DEFAULT_MAX_FAILURES)),
        float(record.get("window_s", DEFAULT_WINDOW_S)),
        float(record.get("ban_s", DEFAULT_BAN_S)),
        networks(record.get("trusted", ())),
    )
    tenants = {
        int(tenant): Policy(
            int(over.get("max_failures", default.max_failures)),
            float(over.get("window_s", default.window_s)),
            float(over.get("ban_s", default.ban_s)),
            default.trusted + networks(over.get("trusted", ())),
        )
        for tenant, over in record.get("tenants", {}).items()
    }
    return Settings(default, tenants)


def ban_key(address: str) -> bytes:
    return f"{BAN_PREFIX}{address}".encode()


def lift_key(address: str) -> bytes:
    return f"{LIFT_PREFIX}{address}".encode()


def encode_lift(at: float) -> bytes:
    return orjson.dumps({"at": at})


def decode_lift(raw: bytes | memoryview) -> float:
    return float(orjson.loads(bytes(raw))["at"])
