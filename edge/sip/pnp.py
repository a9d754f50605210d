"""Plug-and-play: a phone's ``SUBSCRIBE`` with ``Event: ua-profile`` gets its provisioning URL.

vendors.md section 2: a factory phone multicasts (224.0.1.75:5060) or unicasts a SUBSCRIBE
whose Request-URI, To or From user carries its MAC (``MAC%3a001565AABBCC``, ``MAC:...``,
``MAC001565aabbcc`` or bare hex). The edge looks the MAC up in the published ``pnp``
records (provedge/formats/pnp.py); a device it knows, of a tenant with PnP on, gets
``200 OK`` and then a ``NOTIFY`` with ``Content-Type: application/url`` and the URL in the
form its vendor expects, sent from the socket the SUBSCRIBE came in on (for multicast, the
worker's unicast SIP socket), to the SUBSCRIBE's Contact.

Any miss (no MAC in the message, a MAC the edge does not know, a tenant with PnP off) gets
the same ``404 Not Found``, built the same way, so a scanner learns nothing from which
miss it was; and every miss counts as a failure for the firewall (reason
``unknown_mac``): a phone sends a handful of SUBSCRIBEs at boot, a scanner thousands.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

import lmdb

from edge.sipparse import build_request, build_response, new_branch, new_tag
from provedge.formats import pnp

EVENT = "ua-profile"
CONTENT_TYPE = "application/url"
_MAC = re.compile(r"^(?:mac)?[:\-]?((?:[0-9a-f]{2}[:\-]?){5}[0-9a-f]{2})$", re.IGNORECASE)

Address = tuple[str, int]


def is_pnp(msg: Any) -> bool:
    event = msg.event if msg.method == "SUBSCRIBE" else None
    return event is not None and event.package.lower() == EVENT


def mac_of(msg: Any) -> str | None:
    """The MAC a ua-profile SUBSCRIBE carries: Request-URI user, then To, then From."""
    for address in (msg.uri, getattr(msg.to, "uri", None), getattr(msg.from_, "uri", None)):
        user = getattr(address, "user", None)
        if user:
            found = _MAC.match(unquote(user))
            if found:
                return re.sub(r"[:\-]", "", found.group(1)).lower()
    return None


class Directory:
    """The published PnP records, read per SUBSCRIBE (one read transaction)."""

    def __init__(self, env: lmdb.Environment) -> None:
        self._env = env
        self._db: Any = None

    def lookup(self, mac: str) -> pnp.Device | None:
        """The device of ``mac`` when its tenant has PnP on, else None."""
        if self._db is None:
            try:
                self._db = self._env.open_db(pnp.PNP_DB, create=False)
            except lmdb.Error:
                return None  # nothing published yet
        with self._env.begin(db=self._db, buffers=True) as txn:
            raw = txn.get(mac.encode())
            if raw is None:
                return None
            device = pnp.decode_device(raw)
            if not pnp.decode_tenant(txn.get(pnp.tenant_key(device.tenant))):
                return None
        return device


def not_found(msg: Any) -> bytes:
    """The one answer of every miss."""
    return build_response(msg, 404, to_tag=new_tag())


def accepted(msg: Any, tag: str, local: Address) -> bytes:
    """200 OK, ``Expires: 0``: the subscription ends with the one NOTIFY (as snom's own
    PnP server and every phone in vendors.md expect)."""
    headers = [("Expires", "0"), ("Contact", f"<sip:{_host(local[0])}:{local[1]}>")]
    return build_response(msg, 200, headers=headers, to_tag=tag)


def _host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def destination(msg: Any, source: Address) -> Address:
    """Where the NOTIFY goes: the Contact, unless a NAT lies between (its host is not the
    address the SUBSCRIBE came from): then back to the source address and port."""
    contacts = msg.contacts
    uri = contacts[0].uri if contacts else None
    if uri is None or uri.host is None or uri.host.strip("[]") != source[0]:
        return source
    return (source[0], uri.port or 5060)


def notify(msg: Any, tag: str, url: str, local: Address, transport: str) -> bytes:
    """The NOTIFY of an accepted SUBSCRIBE: in its dialog (From/To swapped, our tag),
    the phone's Event copied as sent (snom answers only its own Event back), the URL as
    the whole body."""
    contacts = msg.contacts
    target = contacts[0].uri.text if contacts else str(msg.uri)
    host, port = _host(local[0]), local[1]
    to = msg.header("From") or ""
    headers = [
        ("Via", f"SIP/2.0/{transport.upper()} {host}:{port};branch={new_branch()};rport"),
        ("Max-Forwards", "70"),
        ("From", f"{msg.header('To') or ''};tag={tag}"),
        ("To", to),
        ("Call-ID", msg.header("Call-ID") or new_tag()),
        ("CSeq", f"{(msg.cseq.number if msg.cseq else 0) + 1} NOTIFY"),
        ("Contact", f"<sip:{host}:{port}>"),
        ("Event", msg.header("Event") or EVENT),
        ("Subscription-State", "terminated;reason=timeout"),
        ("Content-Type", CONTENT_TYPE),
    ]
    return build_request("NOTIFY", target, headers=headers, body=url.encode())


class PlugAndPlay:
    """Answers ua-profile SUBSCRIBEs; ``failure`` is the firewall's."""

    def __init__(self, directory: Directory, failure: Callable[[str, str], None]) -> None:
        self.directory = directory
        self.failure = failure

    def handle(
        self, msg: Any, source: Address, local: Address, transport: str, multicast: bool = False
    ) -> list[tuple[bytes, Address]]:
        """What to send, in order, and where: the answer to the source, then the NOTIFY.

        Over multicast a miss gets no answer and is not counted: another provisioning
        server on that network may own the phone."""
        mac = mac_of(msg)
        device = None if mac is None else self.directory.lookup(mac)
        if device is None:
            if multicast:
                return []
            self.failure(source[0], "unknown_mac")
            return [(not_found(msg), source)]
        tag = new_tag()
        return [
            (accepted(msg, tag, local), source),
            (notify(msg, tag, device.url, local, transport), destination(msg, source)),
        ]
