"""The edge's SIP side, on the same event loop as HTTP: UDP datagrams and TCP streams.

It answers ``OPTIONS`` (phones and SBCs use it as a keep-alive and health probe) with 200,
``REGISTER`` through the registrar (edge/sip/registrar.py), a ua-profile ``SUBSCRIBE``
through plug-and-play (edge/sip/pnp.py), and every other request with the status RFC 3261
asks for: 405 with Allow for a method a registrar does not serve, and
whatever ``sipcheck.validate`` finds (400, 416, 420, 505, ...) for a message that parses
but is not acceptable. A message that cannot be parsed gets no answer over UDP (there is
nothing to address a response to) and closes the connection over TCP (a byte stream
cannot be re-synchronised). Responses and ACKs are never answered.

The firewall (edge/sip/firewall.py) comes first: a banned source address gets nothing,
not even a parse (UDP: silence; TCP: the connection is closed). Malformed requests
(unparseable, or 400/416/505) count as failures of their source address.

TCP connections are counted, capped and timed out by the worker's flow table
(edge/sip/flows.py); a CRLF keep-alive ping on a flow gets its CRLF pong (RFC 5626).

Every request that reaches :meth:`SipContext.handle` is counted by method and the status
of the response it got (0: none, as for an ACK) in ``SipContext.counts``, a plain dict
the worker's meter renders at scrape time (edge/http/metrics.py). Methods outside
``COUNTED_METHODS`` count as ``other``, so a scanner's invented methods cannot grow the
labels.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import socket
import struct
from dataclasses import dataclass, field
from time import monotonic as _now
from typing import Protocol

from edge.sip import pnp
from edge.sip.flows import FlowTable
from edge.sip.reboot import RebootSender
from edge.sip.registrar import Registrar
from edge.sipparse import (
    REASON_PHRASES,
    Message,
    SipParseError,
    StreamParser,
    build_response,
    new_tag,
    parse,
    request_status,
    validate,
)

log = logging.getLogger("provedge.sip")
_flow_numbers = itertools.count(1)

ALLOWED_METHODS = ("OPTIONS", "SUBSCRIBE", "REGISTER")
_ALLOW = ", ".join(ALLOWED_METHODS)
PNP_GROUP = "224.0.1.75"  # sip.mcast.net (RFC 3261), where factory phones ask for PnP
BACKLOG = 4096  # pending TCP connections (the kernel caps it at net.core.somaxconn)
# The UDP socket's receive buffer. The kernel's default (~208 KiB) holds about a hundred
# REGISTERs once each datagram's overhead is counted: a 100 ms pause of the loop in a storm
# of 1,700 phones a second drops the rest. The kernel caps it at net.core.rmem_max.
UDP_RECEIVE_BUFFER = 8 << 20
MALFORMED = frozenset((400, 416, 505))  # answers that mean "not a well-formed request"
# Requests a registrar and provisioning edge does not serve, with the answer RFC 3261 (and
# RFC 6665 for events) gives: no dialog or transaction exists here to end or notify (481),
# an event package other than ua-profile (489), a method the server knows but does not
# allow (405 with Allow). An unknown method gets 501.
NOT_SERVED = {
    **dict.fromkeys(("BYE", "CANCEL", "NOTIFY", "PRACK", "UPDATE", "INFO"), 481),
    "SUBSCRIBE": 489,
    **dict.fromkeys(("INVITE", "MESSAGE", "REFER", "PUBLISH", "REGISTER"), 405),
}

# Methods counted by name in the SIP metrics; any other counts as "other".
COUNTED_METHODS = frozenset(("ACK", *ALLOWED_METHODS, *NOT_SERVED))


class FirewallLike(Protocol):
    def banned(self, host: str) -> bool: ...

    def failure(self, host: str, reason: str, tenant: int | None = None) -> None: ...


class NoFirewall:
    """Bans nobody, counts nothing (a SIP endpoint started without a firewall)."""

    def banned(self, host: str) -> bool:
        return False

    def failure(self, host: str, reason: str, tenant: int | None = None) -> None:
        return None


@dataclass
class SipContext:
    """What every SIP protocol instance of a worker shares."""

    firewall: FirewallLike = field(default_factory=NoFirewall)
    pnp: pnp.PlugAndPlay | None = None
    registrar: Registrar | None = None
    flows: FlowTable = field(default_factory=FlowTable)  # the TCP connections' caps
    reboot: RebootSender | None = None
    # (method, status of the response; 0: none) -> requests: the worker's meter renders it
    counts: dict[tuple[str, int], int] = field(default_factory=dict)

    def handle(
        self, msg: Message, source: tuple[str, int], local: tuple[str, int], transport: str,
        multicast: bool = False, flow: SipStream | None = None,
    ) -> list[tuple[bytes, tuple[str, int]]]:  # fmt: skip
        """What to send, and where, for one parsed message (``flow``: the TCP connection
        it came on); a request is counted with the status it was answered."""
        out = self._handle(msg, source, local, transport, multicast, flow)
        if msg.is_request:
            method = msg.method if msg.method in COUNTED_METHODS else "other"
            status = 0
            for data, _ in out:
                if data[:8] == b"SIP/2.0 ":  # the response (PnP may add a NOTIFY after it)
                    status = int(data[8:11])
                    break
            counts = self.counts
            counts[method, status] = counts.get((method, status), 0) + 1
        return out

    def _handle(
        self, msg: Message, source: tuple[str, int], local: tuple[str, int], transport: str,
        multicast: bool, flow: SipStream | None,
    ) -> list[tuple[bytes, tuple[str, int]]]:  # fmt: skip
        if not msg.is_request:
            reboot = self.reboot
            if reboot is not None:
                reboot.on_response(msg, source, transport)
            return []  # a response is never answered
        registrar = self.registrar
        if (
            registrar is not None
            and not multicast
            and msg.method == "REGISTER"
            and request_status(msg, methods=ALLOWED_METHODS) is None
        ):
            flow_id = None if flow is None else flow.flow_id
            outcome = registrar.handle(msg, source, local, transport, flow_id)
            if flow is not None and outcome.registered_s is not None:
                flow.registered(outcome.registered_s)
            return [(_stamp(msg, outcome.response, source), source)]
        plug = self.pnp
        if (
            plug is not None
            and msg.is_request
            and pnp.is_pnp(msg)
            and request_status(msg, methods=ALLOWED_METHODS) is None
        ):
            return [
                (_stamp(msg, data, source) if data.startswith(b"SIP/2.0 ") else data, to)
                for data, to in plug.handle(msg, source, local, transport, multicast)
            ]
        if multicast:
            return []  # only PnP is answered on the multicast group
        response = answer(msg, source)
        if response is None:
            return []
        if int(response[8:11]) in MALFORMED:
            self.firewall.failure(source[0], "malformed")
        return [(response, source)]


def _looks_like_sip(data: bytes) -> bool:
    """Text that tried to be a SIP message (not a CRLF keep-alive, not STUN): a failure
    when it does not parse."""
    head = data.lstrip(b"\r\n")
    return bool(head) and head[:1].isalpha()


def answer(msg: Message, source: tuple[str, int]) -> bytes | None:
    """The response bytes for one parsed message, or None when none is due."""
    if not msg.is_request or msg.method == "ACK":
        return None
    try:
        validate(msg)
    except SipParseError as exc:
        return _error(msg, exc, source)
    method = msg.method
    if method != "OPTIONS":
        status = NOT_SERVED.get(method, 501)
        return _error(msg, SipParseError(status, f"{method} is not served here", 0), source)
    return _stamp(
        msg, build_response(msg, 200, headers=[("Allow", _ALLOW)], to_tag=new_tag()), source
    )


def _error(msg: Message, exc: SipParseError, source: tuple[str, int]) -> bytes:
    headers = [("Warning", f'399 provedge "{_quote(exc.reason)}"')]
    if exc.status in (405, 501):
        headers.append(("Allow", _ALLOW))
    if exc.status == 489:
        headers.append(("Allow-Events", pnp.EVENT))
    if exc.status == 420:
        headers.append(("Unsupported", ", ".join(msg.header_values("Require"))))
    phrase = REASON_PHRASES.get(exc.status, "Bad Request")
    try:
        response = build_response(msg, exc.status, phrase, headers=headers, to_tag=new_tag())
    except (SipParseError, ValueError):
        # A header we would copy is itself malformed: answer with the bare minimum.
        response = build_response(msg, exc.status, phrase, headers=headers)
    return _stamp(msg, response, source)


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\r", " ").replace("\n", " ")


def _stamp(msg: Message, response: bytes, source: tuple[str, int]) -> bytes:
    """RFC 3261 18.2.1 and RFC 3581: the top Via learns where the request really came from."""
    vias = msg.header_values("Via")
    if not vias:
        return response
    top = vias[0]
    params = [p.strip() for p in top.split(";")]
    stamped = [
        p
        for p in params
        if p.lower() != "rport" and not p.lower().startswith(("received=", "rport="))
    ]
    stamped.append(f"received={source[0]}")
    if any(p.lower() == "rport" for p in params):
        stamped.append(f"rport={source[1]}")
    old = b"Via: " + top.encode("utf-8", "surrogateescape") + b"\r\n"
    new = b"Via: " + ";".join(stamped).encode("utf-8", "surrogateescape") + b"\r\n"
    return response.replace(old, new, 1)


class SipDatagram(asyncio.DatagramProtocol):
    def __init__(self, context: SipContext | None = None, multicast: bool = False) -> None:
        self.context = context or SipContext()
        self.multicast = multicast
        self.transport: asyncio.DatagramTransport | None = None
        self.local: tuple[str, int] = ("", 0)
        self.reply: asyncio.DatagramTransport | None = None  # where answers leave from

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.local = transport.get_extra_info("sockname")[:2]
        if self.reply is None:
            self.reply = self.transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        context = self.context
        if context.firewall.banned(addr[0]):
            return  # a banned source gets silence, and costs no parse
        try:
            msg = parse(data)
        except SipParseError as exc:
            log.debug("dropped unparseable datagram from %s: %s", addr[0], exc)
            if _looks_like_sip(data) and not self.multicast:
                context.firewall.failure(addr[0], "malformed")
            return
        reply = self.reply
        if reply is None:
            return
        local = reply.get_extra_info("sockname")[:2]
        for data_out, to in context.handle(msg, addr[:2], local, "udp", self.multicast):
            reply.sendto(data_out, to)


class SipStream(asyncio.Protocol):
    def __init__(self, context: SipContext | None = None) -> None:
        self.context = context or SipContext()
        self.transport: asyncio.Transport | None = None
        self.parser = StreamParser()
        self.peer: tuple[str, int] = ("", 0)
        self.local: tuple[str, int] = ("", 0)
        # Names this connection in the bindings made on it: "pid:n", unique on the host.
        self.flow_id = f"{os.getpid()}:{next(_flow_numbers)}"
        self.registered_s: int | None = None
        # What the flow table's sweep reads (edge/sip/flows.py).
        self.last_message = self.last_bytes = _now()
        self.registered_until = 0.0

    def registered(self, seconds: int) -> None:
        """A REGISTER on this connection left bindings for ``seconds`` (0: removed)."""
        self.registered_s = seconds
        self.registered_until = _now() + seconds if seconds else 0.0

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def write(self, data: bytes) -> None:
        if self.transport is not None:
            self.transport.write(data)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.peer = transport.get_extra_info("peername")[:2]
        self.local = transport.get_extra_info("sockname")[:2]
        if self.context.firewall.banned(self.peer[0]) or not self.context.flows.admit(self):
            transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.context.flows.leave(self)

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        firewall = self.context.firewall
        if firewall.banned(self.peer[0]):
            self.transport.close()  # banned since the connection opened
            return
        self.last_bytes = now = _now()
        if data.endswith(b"\r\n\r\n") and not data.strip(b"\r\n"):
            self.transport.write(b"\r\n")  # RFC 5626 4.4.1: a CRLF pong to the ping
            return
        try:
            messages = self.parser.feed(data)
        except SipParseError as exc:
            log.debug("closing SIP stream from %s: %s", self.peer[0], exc)
            firewall.failure(self.peer[0], "malformed")
            self.transport.close()
            return
        if messages:
            self.last_message = now
        for msg in messages:
            for data_out, _ in self.context.handle(msg, self.peer, self.local, "tcp", flow=self):
                self.transport.write(data_out)  # over TCP everything goes back on the flow


@dataclass
class SipEndpoint:
    """The bound UDP and TCP listeners of one edge process (and the PnP multicast one)."""

    udp: asyncio.DatagramTransport
    tcp: asyncio.Server
    flows: FlowTable
    multicast: asyncio.DatagramTransport | None = None

    @classmethod
    async def start(
        cls, host: str, port: int, context: SipContext | None = None,
        multicast: bool = False,
    ) -> SipEndpoint:  # fmt: skip
        loop = asyncio.get_running_loop()
        context = context or SipContext()
        # reuse_port: every edge worker binds the same SIP port, as they share the HTTP one.
        udp, _ = await loop.create_datagram_endpoint(
            lambda: SipDatagram(context), local_addr=(host, port), reuse_port=True
        )
        udp.get_extra_info("socket").setsockopt(
            socket.SOL_SOCKET, socket.SO_RCVBUF, UDP_RECEIVE_BUFFER
        )
        # A storm of phones connecting at once must not overflow the accept queue.
        tcp = await loop.create_server(
            lambda: SipStream(context), host, port, reuse_port=True, backlog=BACKLOG
        )
        group = None
        if multicast:
            group = await _join_pnp_group(loop, host, port, context, udp)
        context.flows.start()
        if context.reboot is not None:
            context.reboot.udp = udp
            context.reboot.flows = context.flows.by_id  # type: ignore[assignment]
        return cls(udp, tcp, context.flows, group)

    async def stop(self) -> None:
        await self.flows.stop()
        self.udp.close()
        if self.multicast is not None:
            self.multicast.close()
        self.tcp.close()
        await self.tcp.wait_closed()


async def _join_pnp_group(
    loop: asyncio.AbstractEventLoop, host: str, port: int, context: SipContext,
    unicast: asyncio.DatagramTransport,
) -> asyncio.DatagramTransport:  # fmt: skip
    """A socket on 224.0.1.75:``port`` joined on the interface of ``host``; what arrives
    there is answered from the unicast socket (vendors.md 2.2: reply from unicast)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((PNP_GROUP, port))
    interface = socket.inet_aton(host if host not in ("", "0.0.0.0") else "0.0.0.0")
    membership = struct.pack("4s4s", socket.inet_aton(PNP_GROUP), interface)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)
    protocol = SipDatagram(context, multicast=True)
    protocol.reply = unicast
    transport, _ = await loop.create_datagram_endpoint(lambda: protocol, sock=sock)
    return transport
