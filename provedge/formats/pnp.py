"""Plug-and-play records: what the edge needs to answer a ua-profile SUBSCRIBE.

The publisher writes them into the ``pnp`` sub-database of ``DATA/lmdb`` beside the
device's files (owner ``pnp/<mac>``) and the tenant's (owner ``pnp/tenant/<id>``), in the
same transactions, so the edge knows a MAC exactly when it serves the MAC's files:

- key ``<mac>`` (12 lowercase hex): orjson ``{"v": 1, "tenant": int, "vendor": str,
  "url": str}``; ``vendor`` is the catalogue's vendor family (control/domain/catalog.py),
  ``url`` the provisioning URL the NOTIFY carries, already in the form that vendor expects
  (docs/firewall.md, "Plug-and-play").
- key ``tenant/<id>``: orjson ``{"v": 1, "pnp": bool}``: whether the tenant's phones are
  answered at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

PNP_DB = b"pnp"
OWNER_PREFIX = "pnp/"
VERSION = 1


@dataclass(frozen=True, slots=True)
class Device:
    tenant: int
    vendor: str
    url: str


def device_owner(mac: str) -> str:
    return f"{OWNER_PREFIX}{mac}"


def tenant_owner(tenant: int) -> str:
    return f"{OWNER_PREFIX}tenant/{tenant}"


def tenant_key(tenant: int) -> bytes:
    return f"tenant/{tenant}".encode()


def encode_device(device: Device) -> bytes:
    return orjson.dumps(
        {"v": VERSION, "tenant": device.tenant, "vendor": device.vendor, "url": device.url}
    )


def decode_device(raw: bytes | memoryview) -> Device:
    record = orjson.loads(bytes(raw))
    if record.get("v") != VERSION:
        raise ValueError("not a version-1 PnP record")
    return Device(int(record["tenant"]), str(record["vendor"]), str(record["url"]))


def encode_tenant(enabled: bool) -> bytes:
    return orjson.dumps({"v": VERSION, "pnp": enabled})


def decode_tenant(raw: bytes | memoryview | None) -> bool:
    """Whether PnP is on; off when the tenant has no record (nothing to answer for)."""
    if raw is None:
        return False
    record = orjson.loads(bytes(raw))
    return record.get("v") == VERSION and bool(record.get("pnp"))
