"""Via header values: sent-protocol, sent-by and parameters (``_sipparse_via.pxi``).

Part of the pure-Python twin of ``edge._sipparse``; mirrors the compiled topic file
named above step for step.
"""

from __future__ import annotations

from edge._sipparse_py.params import _header_params, _uint_text
from edge._sipparse_py.scanner import _skip_lws, _text, _token_end
from edge._sipparse_py.uri import _host_end, _port
from edge.sipdefs import SipParseError


class Via:
    """One via-parm: ``SIP/2.0/UDP host:port;branch=...;received=...;rport``."""

    __slots__ = (
        "branch",
        "has_rport",
        "host",
        "maddr",
        "params",
        "port",
        "protocol",
        "received",
        "rport",
        "transport",
        "ttl",
    )

    protocol: str
    transport: str
    host: str
    port: int | None
    branch: str | None
    received: str | None
    rport: int | None
    has_rport: bool
    maddr: str | None
    ttl: int | None
    params: dict[str, str | None]

    def __repr__(self) -> str:
        return f"Via({self.protocol}/{self.transport} {self.host}:{self.port} {self.params!r})"


def _parse_via(buf: bytes, s: int, e: int) -> Via:
    ne = _token_end(buf, s, e)
    if ne == s:
        raise SipParseError(400, "Malformed Via", s)
    i = _skip_lws(buf, ne, e)
    if i >= e or buf[i] != 47:
        raise SipParseError(400, "Malformed Via", i)
    vs = _skip_lws(buf, i + 1, e)
    ve = _token_end(buf, vs, e)
    if ve == vs:
        raise SipParseError(400, "Malformed Via", vs)
    i = _skip_lws(buf, ve, e)
    if i >= e or buf[i] != 47:
        raise SipParseError(400, "Malformed Via", i)
    ts = _skip_lws(buf, i + 1, e)
    te = _token_end(buf, ts, e)
    if te == ts:
        raise SipParseError(400, "Malformed Via", ts)
    h = _skip_lws(buf, te, e)
    if h == te:
        raise SipParseError(400, "Malformed Via", h)
    he = _host_end(buf, h, e)
    via = Via()
    via.protocol = _text(buf[s:ne] + b"/" + buf[vs:ve])
    via.transport = _text(buf[ts:te])
    via.host = _text(buf[h:he])
    via.port = None
    i = _skip_lws(buf, he, e)
    if i < e and buf[i] == 58:
        via.port, i = _port(buf, _skip_lws(buf, i + 1, e), e)
    else:
        i = he
    ps = i
    params, i = _header_params(buf, i, e)
    if i != e:
        raise SipParseError(400, "Malformed Via", i)
    via.params = params
    via.branch = params.get("branch")
    via.received = params.get("received")
    via.maddr = params.get("maddr")
    via.has_rport = "rport" in params
    via.rport = via.ttl = None
    value = params.get("rport")
    if value is not None:
        via.rport = _uint_text(value, 65535, "Invalid rport", ps)
    value = params.get("ttl")
    if value is not None:
        via.ttl = _uint_text(value, 255, "Invalid ttl", ps)
    return via
