"""What a SIP server should answer to a message that parsed: the application-layer checks.

``parse`` only refuses what cannot be framed or scanned. RFC 4475 sections 3.1.2 to 3.3
list messages that scan fine but must still be answered with an error status (505 for an
unknown version, 400 for a CSeq method mismatch, 416 for an unknown URI scheme, ...).
``validate`` raises ``SipParseError`` carrying that status; ``request_status`` returns it.
Works on messages of either implementation (it only reads the public API).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from edge.sipdefs import SipParseError

SUPPORTED_SCHEMES = frozenset({"sip", "sips", "tel"})
# RFC 3261 section 8.1.1: every request carries these (Max-Forwards is left out on
# purpose: RFC 2543 clients omit it and RFC 4475 section 3.4.1 asks us to accept them).
REQUIRED_HEADERS = ("To", "From", "Call-ID", "CSeq", "Via")
# RFC 3261 section 7.3.1: these appear at most once.
SINGLE_VALUE_HEADERS = (
    "To",
    "From",
    "Call-ID",
    "CSeq",
    "Max-Forwards",
    "Content-Length",
    "Content-Type",
    "Expires",
)
_FIELDS = (
    "uri",
    "via",
    "from_",
    "to",
    "contacts",
    "call_id",
    "cseq",
    "max_forwards",
    "expires",
    "event",
    "authorization",
)


def unsupported_extensions(msg: Any, supported: Collection[str] = ()) -> list[str]:
    """Option tags of ``Require`` that are not in ``supported`` (for the Unsupported header)."""
    return [tag for tag in msg.header_values("Require") if tag not in supported]


def validate(
    msg: Any,
    *,
    supported: Collection[str] = (),
    schemes: Collection[str] = SUPPORTED_SCHEMES,
    methods: Collection[str] | None = None,
    content_types: Collection[str] | None = None,
    accept: Collection[str] | None = None,
    proxy: bool = False,
) -> None:
    """Raise ``SipParseError`` with the status a server should answer, or return None.

    Checks, in this order: version (505); required headers (400); single-value headers
    repeated (400); every structured field parses (400); for requests: Request-URI
    without headers (400), CSeq method equals the request method (400), Request-URI
    scheme in ``schemes`` (416), method in ``methods`` if given (501), Max-Forwards 0 at a
    proxy (483), every ``Require`` option tag in ``supported`` (420), Content-Type in
    ``content_types`` if given and there is a body (415), the ``Accept`` header allows
    one of ``accept`` if both are given (406).
    """
    if msg.version.upper() != "SIP/2.0":
        raise SipParseError(505, f"Unsupported version {msg.version}", 0)
    for name in REQUIRED_HEADERS:
        if msg.header(name) is None:
            raise SipParseError(400, f"Missing {name} header", 0)
    for name in SINGLE_VALUE_HEADERS:
        if len(msg.header_values(name)) > 1:
            raise SipParseError(400, f"Multiple {name} headers", 0)
    for field in _FIELDS:
        getattr(msg, field)
    if msg.is_request:
        _check_request(msg, supported, schemes, methods, proxy)
    _check_body(msg, content_types, accept)


def _check_request(
    msg: Any,
    supported: Collection[str],
    schemes: Collection[str],
    methods: Collection[str] | None,
    proxy: bool,
) -> None:
    if msg.uri.headers:
        raise SipParseError(400, "Request-URI must not contain headers", 0)
    if msg.cseq.method != msg.method:
        raise SipParseError(400, "CSeq method does not match the request method", 0)
    if msg.uri.scheme not in schemes:
        raise SipParseError(416, f"Unsupported URI scheme {msg.uri.scheme}", 0)
    if methods is not None and msg.method not in methods:
        raise SipParseError(501, f"Method {msg.method} not implemented", 0)
    if proxy and msg.max_forwards == 0 and msg.method != "OPTIONS":
        raise SipParseError(483, "Max-Forwards is 0", 0)
    missing = unsupported_extensions(msg, supported)
    if missing:
        raise SipParseError(420, "Unsupported extension " + ", ".join(missing), 0)


def _media_type(value: str) -> str:
    return value.split(";", 1)[0].strip().lower()


def _check_body(
    msg: Any, content_types: Collection[str] | None, accept: Collection[str] | None
) -> None:
    if content_types is not None and msg.body:
        ctype = _media_type(msg.header("Content-Type") or "")
        if ctype not in content_types:
            raise SipParseError(415, f"Unsupported media type {ctype}", 0)
    if accept is not None and msg.is_request:
        offered = [_media_type(v) for v in msg.header_values("Accept")]
        if offered and not any(_accepts(o, accept) for o in offered):
            raise SipParseError(406, "None of the Accept types can be produced", 0)


def _accepts(offered: str, produced: Collection[str]) -> bool:
    if offered == "*/*":
        return True
    if offered.endswith("/*"):
        return any(p.startswith(offered[:-1]) for p in produced)
    return offered in produced


def request_status(msg: Any, **options: Any) -> int | None:
    """The error status ``validate`` would raise (same options), or None when all is well."""
    try:
        validate(msg, **options)
    except SipParseError as exc:
        return exc.status
    return None
