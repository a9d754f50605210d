"""SIP bindings: the registrar's record of where an account's phones can be reached.

The edge-state writer (edge/state/bindings.py) keeps them in the ``bindings`` sub-database
of the edge-state environment (provedge/formats/edgestate.py); every edge worker reads
them (edge/sip/bindings.py), so a phone registered through one worker is seen by all; the
control plane lists them read-only (``GET /api/v1/registrations``).

    key:   u64 account id, big-endian | 16 bytes blake2b of the binding's identity
    value: orjson of
        {"v": 1, "account": int, "username": str, "tenant": int, "aor": "sip:user@domain",
         "contact": "<sip:...>" as the phone sent it, "instance": str | null,
         "reg_id": int | null, "source": "addr", "port": int, "transport": "udp"|"tcp",
         "flow": "pid:connection" | null,   # the TCP connection it came on
         "worker": pid,                     # the edge worker that took the REGISTER
         "local": "addr:port",              # the edge socket it reached
         "user_agent": str, "call_id": str, "cseq": int,
         "registered_at": float,   # first REGISTER of this Call-ID (a restart: a new one)
         "refreshed_at": float, "expires_at": float}   # seconds since the epoch

The identity is ``+sip.instance`` and ``reg-id`` when the phone sends them (RFC 5626:
a phone that changes address keeps its binding), else the Contact URI (RFC 3261 10.3).
The big-endian account id first makes one account's bindings one key range. A binding is
current while ``expires_at`` is in the future; readers check it, the writer sweeps.
"""

from __future__ import annotations

import hashlib
import struct
from typing import Any

import orjson

from provedge.formats.edgestate import BINDINGS_DB

VERSION = 1
KEY_SIZE = 24
_ACCOUNT = struct.Struct(">Q")

__all__ = ["BINDINGS_DB", "account_prefix", "decode", "encode", "identity", "key"]


def identity(contact_uri: str, instance: str | None, reg_id: int | None) -> str:
    """What makes two Contacts the same binding."""
    if instance:
        return f"instance:{instance}:{reg_id if reg_id is not None else ''}"
    return f"uri:{contact_uri}"


def account_prefix(account_id: int) -> bytes:
    return _ACCOUNT.pack(account_id)


def key(account_id: int, ident: str) -> bytes:
    return _ACCOUNT.pack(account_id) + hashlib.blake2b(ident.encode(), digest_size=16).digest()


def account_of(raw_key: bytes) -> int:
    return int(_ACCOUNT.unpack_from(raw_key)[0])


def encode(record: dict[str, Any]) -> bytes:
    return orjson.dumps({"v": VERSION, **record})


def decode(raw: bytes | memoryview) -> dict[str, Any]:
    """ValueError for a record of another version."""
    record: dict[str, Any] = orjson.loads(bytes(raw))
    if record.get("v") != VERSION:
        raise ValueError("not a version-1 binding record")
    return record
