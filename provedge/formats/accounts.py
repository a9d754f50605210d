"""The account records the registrar reads, and the access-rule semantics both sides share.

The publisher writes one record per SIP device account into the ``accounts`` sub-database
of the LMDB environment (provedge/formats/store.py), under the owner ``account/<id>``:

    key:   b"{domain}/{username}/{account id}", domain lowercased: the realm, and the
           tenant's SIP server name when it differs (both keys hold the same record)
    value: orjson of
        {"v": 1, "id": int, "tenant": int, "realm": str, "username": str,
         "enabled": bool,                  # false: the registrar answers 403
         "auth_method": "password" | "ip",
         "ip_networks": [CIDR, ...],       # auth_method "ip": the sources accepted
         "access_rules": [{"action": "deny" | "permit", "network": CIDR}, ...],
         "expires_min": 60, "expires_max": int,  # the account's expires, 60..3600
         "invite_format": "username" | "npan" | "1npan" | "e164" | "route",
         "outbound_flags": [token, ...],   # the carrier route calls from it take
         "caller_id_name": str, "caller_id_number": str,
         "secondary_number": str,          # "" or a number that also reaches it
         "ha1_md5": hex, "ha1_sha256": hex}      # H(username:realm:password), RFC 7616

The routing fields (invite format, outbound flags, caller id, secondary number) travel in
the record so that the SIP side, which reads LMDB only, has every SIP parameter the API
takes.

No plaintext password reaches the edge. Realms and usernames never hold ``/``, so a
registrar finds the accounts of ``username@realm`` by a prefix scan of
``{realm}/{username}/``; accounts of different tenants may share a realm and a username
(the key's last part keeps them apart), and the registrar decides what more than one
means.

Access rules are evaluated first to last and the last rule whose network holds the
source address decides; no match permits (the operator manuals' semantics, as Asterisk's
permit/deny): ``deny 0.0.0.0/0`` then ``permit 216.27.242.66/32`` admits that one address
only. Networks are written as CIDR, normalised by :func:`parse_network`.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterable
from typing import Literal

import orjson

ACCOUNTS_DB = b"accounts"
OWNER_PREFIX = "account/"
VERSION = 1
MIN_EXPIRES = 60
MAX_EXPIRES = 3600

Action = Literal["deny", "permit"]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class BadNetwork(ValueError):
    """A network that is neither ``address/netmask`` nor CIDR, or a non-contiguous netmask."""


def parse_network(text: str) -> str:
    """``address``, ``address/prefix`` or (IPv4) ``address/netmask`` as a normalised CIDR.

    Host bits are cleared (``10.0.0.5/24`` is ``10.0.0.0/24``); an address alone is a
    host (``/32``, ``/128``). A netmask must be contiguous ones: ``255.0.255.0`` and
    hostmasks such as ``0.0.0.255`` are refused.
    """
    address, _, mask = text.strip().partition("/")
    try:
        host = ipaddress.ip_address(address)
    except ValueError:
        raise BadNetwork(f"{address!r} is not an IPv4 or IPv6 address") from None
    if not mask:
        prefix: int = host.max_prefixlen
    elif mask.isdigit():
        prefix = int(mask)
        if prefix > host.max_prefixlen:
            raise BadNetwork(f"a prefix length is 0 to {host.max_prefixlen}")
    elif host.version == 4:
        try:
            bits = int(ipaddress.IPv4Address(mask))
        except ValueError:
            raise BadNetwork(f"{mask!r} is neither a prefix length nor a netmask") from None
        prefix = bits.bit_count()
        if bits != (0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF:
            raise BadNetwork(f"netmask {mask} is not contiguous")
    else:
        raise BadNetwork("an IPv6 network takes a prefix length (CIDR), not a netmask")
    return str(ipaddress.ip_network(f"{host}/{prefix}", strict=False))


def _address(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    parsed = ipaddress.ip_address(address)
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        return parsed.ipv4_mapped  # ::ffff:a.b.c.d from a dual-stack socket is a.b.c.d
    return parsed


def access_allows(rules: Iterable[tuple[Action, str]], address: str) -> bool:
    """Whether ``rules`` (``(action, CIDR)``, in order) admit the source ``address``."""
    source = _address(address)
    allowed = True
    for action, network in rules:
        if source in ipaddress.ip_network(network):
            allowed = action == "permit"
    return allowed


def ha1(username: str, realm: str, password: str, algorithm: str) -> str:
    """The digest HA1 ``H(username:realm:password)``; ``algorithm`` md5 or sha256."""
    return hashlib.new(algorithm, f"{username}:{realm}:{password}".encode()).hexdigest()


def record_key(domain: str, username: str, account_id: int) -> bytes:
    """``domain`` is the realm or the tenant's SIP server name, lowercased by the reader."""
    return f"{domain.lower()}/{username}/{account_id}".encode()


def encode_record(
    *,
    account_id: int,
    tenant: int,
    realm: str,
    username: str,
    password: str,
    enabled: bool,
    auth_method: str,
    ip_networks: list[str],
    access_rules: list[dict[str, str]],
    expires: int,
    invite_format: str,
    outbound_flags: list[str],
    caller_id_name: str,
    caller_id_number: str,
    secondary_number: str,
) -> bytes:
    return orjson.dumps(
        {
            "v": VERSION,
            "id": account_id,
            "tenant": tenant,
            "realm": realm,
            "username": username,
            "enabled": enabled,
            "auth_method": auth_method,
            "ip_networks": ip_networks,
            "access_rules": access_rules,
            "expires_min": MIN_EXPIRES,
            "expires_max": expires,
            "invite_format": invite_format,
            "outbound_flags": outbound_flags,
            "caller_id_name": caller_id_name,
            "caller_id_number": caller_id_number,
            "secondary_number": secondary_number,
            "ha1_md5": ha1(username, realm, password, "md5"),
            "ha1_sha256": ha1(username, realm, password, "sha256"),
        }
    )


def decode_record(raw: bytes | memoryview) -> dict[str, object]:
    record: dict[str, object] = orjson.loads(bytes(raw))
    if record.get("v") != VERSION:
        raise ValueError("not a provedge account record of this version")
    return record
