"""Delivery rules: how the edge hands a device its own files (docs/delivery.md).

A tenant's ``delivery_policy`` is ``keyed_url`` (the tenant key in the URL is all it
takes, today's behaviour), ``device_credentials`` (a first stage without secrets, then
the full files only with the device's own fetch credentials), either of them with
``+ua_mac_match`` (the User-Agent's MAC must be the MAC requested, for vendors whose
User-Agent carries one). The publisher writes, beside the device's files, what the edge
needs to apply it; a device of a plain ``keyed_url`` tenant has no record:

    sub-database ``delivery`` of DATA/lmdb, owner ``delivery/<mac>``
    key:   <mac> (12 lowercase hex)
    value: u8 version (1) | u8 flags | u64 cycle | 32 bytes MD5 HA1 (hex)
           | 64 bytes SHA-256 HA1 (hex) | 32 bytes Basic verifier | u16 len(name) | name
           | first-stage blob (provedge/formats/store.py's encoding)

``flags``: 1 device credentials, 2 User-Agent MAC match. ``cycle`` names the provisioning
cycle (random, drawn again by each counter reset, so a device removed and added again
never meets an old claim): the first stage is served once per cycle. The HA1s are over ``<mac>:<REALM>:<password>`` (RFC 7616 3.4.2);
the Basic verifier is SHA-256 of ``<mac>:<password>`` (the password is 96 random bits,
so a fast hash is enough). ``name`` is the file name the first stage answers for (the
vendor's file that carries the secrets), the blob its bytes, which carry the password
itself: the phone must learn it.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

DELIVERY_DB = b"delivery"
OWNER_PREFIX = "delivery/"
REALM = "provedge"
AUTH_DIR = "auth/"  # /p/<tenant key>/auth/<file>: the second stage, credentials required

KEYED_URL = "keyed_url"
DEVICE_CREDENTIALS = "device_credentials"
UA_MAC_MATCH = "ua_mac_match"
POLICIES = (
    KEYED_URL,
    DEVICE_CREDENTIALS,
    f"{KEYED_URL}+{UA_MAC_MATCH}",
    f"{DEVICE_CREDENTIALS}+{UA_MAC_MATCH}",
)

FLAG_CREDENTIALS = 1
FLAG_UA_MAC = 2

VERSION = 1
_HEAD = struct.Struct("<BBQ32s64s32sH")


def owner(mac: str) -> str:
    return f"{OWNER_PREFIX}{mac}"


def flags_of(policy: str) -> int:
    """The flags a policy sets (0: plain keyed_url, nothing published)."""
    base, _, extra = policy.partition("+")
    return (FLAG_CREDENTIALS if base == DEVICE_CREDENTIALS else 0) | (
        FLAG_UA_MAC if extra == UA_MAC_MATCH else 0
    )


def ha1(algorithm: str, user: str, password: str) -> str:
    """``algorithm`` a hashlib name (edge/sip/digest.py ALGORITHMS' values)."""
    return hashlib.new(algorithm, f"{user}:{REALM}:{password}".encode()).hexdigest()


def basic_verifier(user: str, password: str) -> bytes:
    return hashlib.sha256(f"{user}:{password}".encode()).digest()


@dataclass(frozen=True, slots=True)
class Rule:
    flags: int
    cycle: int
    ha1_md5: str
    ha1_sha256: str
    basic: bytes
    first_name: str
    first_blob: bytes  # encoded as store.encode_blob

    @property
    def credentials(self) -> bool:
        return bool(self.flags & FLAG_CREDENTIALS)

    @property
    def ua_mac(self) -> bool:
        return bool(self.flags & FLAG_UA_MAC)


def encode(rule: Rule) -> bytes:
    name = rule.first_name.encode()
    head = _HEAD.pack(
        VERSION, rule.flags, rule.cycle, rule.ha1_md5.encode(), rule.ha1_sha256.encode(),
        rule.basic, len(name),
    )  # fmt: skip
    return head + name + rule.first_blob


def decode(raw: bytes | memoryview) -> Rule:
    """ValueError for another version or a short record."""
    if len(raw) < _HEAD.size or raw[0] != VERSION:
        raise ValueError("not a version-1 delivery record")
    _, flags, cycle, md5, sha256, basic, name_len = _HEAD.unpack_from(raw)
    end = _HEAD.size + name_len
    if len(raw) < end:
        raise ValueError("truncated delivery record")
    name = bytes(raw[_HEAD.size : end]).decode()
    return Rule(flags, cycle, md5.decode(), sha256.decode(), basic, name, bytes(raw[end:]))
