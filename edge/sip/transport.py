"""The edge's SIP side, on the same event loop as HTTP: UDP datagrams and TCP streams.

For now it answers ``OPTIONS`` (phones and SBCs use it as a keep-alive and health
probe) with 200 and every other request with the status RFC 3261 asks for: 501 for a
method not implemented here yet, and whatever ``sipcheck.validate`` finds (400, 416,
420, 505, ...) for a message that parses but is not acceptable. A message that cannot be
parsed gets no answer over UDP (there is nothing to address a response to) and closes
the connection over TCP (a byte stream cannot be re-synchronised). Responses and ACKs
are never answered.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from edge.sipparse import (
    REASON_PHRASES,
    Message,
    SipParseError,
    StreamParser,
    build_response,
    new_tag,
    parse,
    validate,
)

log = logging.getLogger("provedge.sip")

ALLOWED_METHODS = ("OPTIONS",)
_ALLOW = ", ".join(ALLOWED_METHODS)


def answer(msg: Message, source: tuple[str, int]) -> bytes | None:
    """The response bytes for one parsed message, or None when none is due."""
    if not msg.is_request or msg.method == "ACK":
        return None
    try:
        validate(msg, methods=ALLOWED_METHODS)
    except SipParseError as exc:
        return _error(msg, exc, source)
    return _stamp(
        msg, build_response(msg, 200, headers=[("Allow", _ALLOW)], to_tag=new_tag()), source
    )


def _error(msg: Message, exc: SipParseError, source: tuple[str, int]) -> bytes:
    headers = [("Warning", f'399 provedge "{_quote(exc.reason)}"')]
    if exc.status in (405, 501):
        headers.append(("Allow", _ALLOW))
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
    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            msg = parse(data)
        except SipParseError as exc:
            log.debug("dropped unparseable datagram from %s: %s", addr[0], exc)
            return
        response = answer(msg, addr[:2])
        if response is not None and self.transport is not None:
            self.transport.sendto(response, addr)


class SipStream(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = StreamParser()
        self.peer: tuple[str, int] = ("", 0)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.peer = transport.get_extra_info("peername")[:2]

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        try:
            messages = self.parser.feed(data)
        except SipParseError as exc:
            log.debug("closing SIP stream from %s: %s", self.peer[0], exc)
            self.transport.close()
            return
        for msg in messages:
            response = answer(msg, self.peer)
            if response is not None:
                self.transport.write(response)


@dataclass
class SipEndpoint:
    """The bound UDP and TCP listeners of one edge process."""

    udp: asyncio.DatagramTransport
    tcp: asyncio.Server

    @classmethod
    async def start(cls, host: str, port: int) -> SipEndpoint:
        loop = asyncio.get_running_loop()
        # reuse_port: every edge worker binds the same SIP port, as they share the HTTP one.
        udp, _ = await loop.create_datagram_endpoint(
            SipDatagram, local_addr=(host, port), reuse_port=True
        )
        tcp = await loop.create_server(SipStream, host, port, reuse_port=True)
        return cls(udp, tcp)

    async def stop(self) -> None:
        self.udp.close()
        self.tcp.close()
        await self.tcp.wait_closed()
