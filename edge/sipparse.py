"""SIP message parsing: the public module.

Picks the compiled parser (``edge._sipparse``) or its pure-Python twin
(``edge._sipparse_py``) once, at import; ``accel=py`` (or ``PROVEDGE_NO_EXTENSIONS=1``)
forces the twin.
``IMPLEMENTATION`` says which one is in use ("c" or "py"). See docs/sipparse.md.
"""

from __future__ import annotations

from edge._accel import load
from edge.sipbuild import build_request, build_response, new_branch, new_tag
from edge.sipcheck import request_status, unsupported_extensions, validate
from edge.sipdefs import (
    MAX_HEADER_LENGTH,
    MAX_HEADERS,
    MAX_MESSAGE_SIZE,
    REASON_PHRASES,
    SipParseError,
)

_impl, IMPLEMENTATION = load("edge._sipparse", "edge._sipparse_py")

parse = _impl.parse
StreamParser = _impl.StreamParser
Message = _impl.Message
Uri = _impl.Uri
Address = _impl.Address
Via = _impl.Via
CSeq = _impl.CSeq
Event = _impl.Event
Auth = _impl.Auth

__all__ = [
    "IMPLEMENTATION",
    "MAX_HEADERS",
    "MAX_HEADER_LENGTH",
    "MAX_MESSAGE_SIZE",
    "REASON_PHRASES",
    "Address",
    "Auth",
    "CSeq",
    "Event",
    "Message",
    "SipParseError",
    "StreamParser",
    "Uri",
    "Via",
    "build_request",
    "build_response",
    "new_branch",
    "new_tag",
    "parse",
    "request_status",
    "unsupported_extensions",
    "validate",
]
