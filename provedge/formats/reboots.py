"""Remote re-sync and reboot: the targets the control plane publishes, the outcomes the
edge keeps.

Targets (published LMDB, sub-database ``reboots``, owner ``reboot/<job>/<wave>``): the
reboot job publishes each wave when its time comes, so pacing is the control plane's and
an edge worker sends what it finds, once:

    key:   u64 job | u32 seq, big-endian (a job's targets are one key range, in order)
    value: orjson {"v": 1, "job", "seq", "mac", "mode": "resync"|"reboot", "event",
                   "accounts": [account ids of the device's lines, line order],
                   "credentials": [{"username", "realm", "md5", "sha256"}],  # HA1s only
                   "token": str}   # names the NOTIFY's Call-ID and From tag

Outcomes (edge state, sub-database ``notifies``, same key): the last word of the edge
on each target, ``{"state", "status", "detail", "at", "contact"}``; a weaker state never
replaces a stronger one (a retransmission timing out after another worker got the 200).
"""

from __future__ import annotations

import struct
from typing import Any

import orjson

REBOOTS_DB = b"reboots"
NOTIFIES_DB = b"notifies"
OWNER_PREFIX = "reboot/"
VERSION = 1
_KEY = struct.Struct(">QI")

MODES = ("resync", "reboot")
# What the edge reports; `rebooted`/`resynced` are the control plane's, from the phone's
# own fetch and REGISTER after the NOTIFY.
SENT, ACCEPTED, REJECTED, TIMEOUT, NOT_REGISTERED = (
    "sent", "accepted", "rejected", "timeout", "not_registered",
)  # fmt: skip
RANK = {SENT: 0, TIMEOUT: 1, NOT_REGISTERED: 2, REJECTED: 2, ACCEPTED: 3}

# The Event each vendor family acts on (../shared/reference/vendors.md section 3). Never
# reboot=false where a reboot was asked. Polycom re-reads its files on check-sync and
# reboots when they changed; snom, Yealink (sip.notify_reboot_enable = 0 in its files),
# Fanvil, Grandstream and Gigaset honour reboot=true|false; Cisco SPA/MPP have resync and
# reboot_now of their own.
EVENTS = {
    "cisco": {"resync": "resync", "reboot": "reboot_now"},
    "polycom": {"resync": "check-sync", "reboot": "check-sync;reboot=true"},
}
_CHECK_SYNC = {"resync": "check-sync;reboot=false", "reboot": "check-sync;reboot=true"}
# The realm a vendor challenges a NOTIFY with when it is not the line's own.
CHALLENGE_REALMS = {"polycom": "PolycomSPIP"}


def event(family: str, mode: str) -> str:
    return EVENTS.get(family, _CHECK_SYNC)[mode]


def owner(job: int, wave: int) -> str:
    return f"{OWNER_PREFIX}{job}/{wave}"


def key(job: int, seq: int) -> bytes:
    return _KEY.pack(job, seq)


def job_prefix(job: int) -> bytes:
    return struct.pack(">Q", job)


def split_key(raw: bytes) -> tuple[int, int]:
    job, seq = _KEY.unpack(bytes(raw))
    return int(job), int(seq)


def encode(record: dict[str, Any]) -> bytes:
    return orjson.dumps({"v": VERSION, **record})


def decode(raw: bytes | memoryview) -> dict[str, Any]:
    try:
        record: dict[str, Any] = orjson.loads(bytes(raw))
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not a reboot record: {exc}") from None
    if not isinstance(record, dict) or record.get("v") != VERSION:
        raise ValueError("not a reboot record of this version")
    return record


def stronger(new: dict[str, Any], old: dict[str, Any] | None) -> bool:
    """Whether the outcome ``new`` replaces ``old``."""
    return old is None or RANK.get(new["state"], 0) >= RANK.get(old["state"], 0)
