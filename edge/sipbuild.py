"""Building SIP messages the edge sends: responses to SUBSCRIBE/REGISTER, NOTIFY requests.

Returns wire bytes (CRLF line ends, Content-Length always present, so the result frames
correctly over TCP as well as UDP). Header values are checked for CR/LF so a value taken
from a request can never inject a header line.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Any

from edge.sipdefs import REASON_PHRASES

Headers = Iterable[tuple[str, str]]


def new_tag() -> str:
    """A random From/To tag (RFC 3261 section 19.3: at least 32 bits of randomness)."""
    return secrets.token_hex(8)


def new_branch() -> str:
    """A Via branch with the RFC 3261 magic cookie."""
    return "z9hG4bK" + secrets.token_hex(10)


def _line(name: str, value: str) -> bytes:
    if any(c in name for c in ":\r\n ") or "\r" in value or "\n" in value:
        raise ValueError(f"header {name!r} would break the message framing")
    return f"{name}: {value}\r\n".encode("utf-8", "surrogateescape")


def _finish(start: str, lines: list[bytes], headers: Headers, body: bytes) -> bytes:
    lines.extend(_line(name, value) for name, value in headers)
    lines.append(b"Content-Length: %d\r\n\r\n" % len(body))
    return start.encode("utf-8", "surrogateescape") + b"\r\n" + b"".join(lines) + body


def build_response(
    request: Any,
    status: int,
    reason: str | None = None,
    *,
    headers: Headers = (),
    body: bytes = b"",
    to_tag: str | None = None,
) -> bytes:
    """A response to ``request`` (RFC 3261 section 8.2.6.2).

    Copies every Via, From, Call-ID and CSeq; copies To and adds ``to_tag`` when the
    request's To has no tag yet (pass ``new_tag()``; a 100 Trying gets no tag).
    """
    if not 100 <= status <= 699:
        raise ValueError(f"status {status} out of range")
    phrase = reason if reason is not None else REASON_PHRASES.get(status, "Unknown")
    lines = [_line("Via", via) for via in request.header_values("Via")]
    to = request.header("To") or ""
    if to_tag is not None and status > 100 and request.to is not None and request.to.tag is None:
        to = f"{to};tag={to_tag}"
    for name, value in (
        ("From", request.header("From")),
        ("To", to),
        ("Call-ID", request.header("Call-ID")),
        ("CSeq", request.header("CSeq")),
    ):
        if value is not None:
            lines.append(_line(name, value))
    return _finish(f"SIP/2.0 {status} {phrase}", lines, headers, body)


def build_request(method: str, uri: str, *, headers: Headers = (), body: bytes = b"") -> bytes:
    """A request line, the given headers in order, Content-Length and the body."""
    if not method or any(c in method + uri for c in " \r\n"):
        raise ValueError("method and Request-URI must not contain spaces or line breaks")
    return _finish(f"{method} {uri} SIP/2.0", [], headers, body)
