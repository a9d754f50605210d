"""URIs (sip, sips, tel; other schemes keep only scheme and text) and name-addr /
addr-spec addresses: From, To, Contact (``_sipparse_uri.pxi``).

Part of the pure-Python twin of ``edge._sipparse``; mirrors the compiled topic file
named above step for step.
"""

from __future__ import annotations

from edge._sipparse_py.params import _header_params, _qvalue, _uint_text
from edge._sipparse_py.scanner import (
    _ALPHA,
    _DELTA_MAX,
    _DIGIT,
    _HOST,
    _IPV6,
    _LWS,
    _SCHEME,
    _TOKEN,
    _URI_BAD,
    _pct_decode,
    _quoted,
    _rtrim,
    _skip_lws,
    _text,
)
from edge.sipdefs import SipParseError


def _port(buf: bytes, i: int, e: int) -> tuple[int, int]:
    j = i
    while j < e and buf[j] in _DIGIT:
        j += 1
    if j == i or j - i > 5:
        raise SipParseError(400, "Invalid port", i)
    port = int(buf[i:j])
    if port > 65535:
        raise SipParseError(400, "Invalid port", i)
    return port, j


def _host_end(buf: bytes, h: int, e: int) -> int:
    """End of a host (name, IPv4 or [IPv6]) starting at ``h``; raises if there is none."""
    if h < e and buf[h] == 91:
        j = h + 1
        while j < e and buf[j] in _IPV6:
            j += 1
        if j == h + 1 or j >= e or buf[j] != 93:
            raise SipParseError(400, "Malformed host", h)
        return j + 1
    j = h
    while j < e and buf[j] in _HOST:
        j += 1
    if j == h:
        raise SipParseError(400, "Malformed host", h)
    return j


class Uri:
    """A SIP, SIPS or tel URI (other schemes keep only ``scheme`` and ``text``)."""

    __slots__ = ("headers", "host", "params", "password", "port", "scheme", "text", "user")

    scheme: str
    user: str | None
    password: str | None
    host: str | None
    port: int | None
    params: dict[str, str | None]
    headers: dict[str, str]
    text: str

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"Uri({self.text!r})"


def _uri_params(buf: bytes, i: int, e: int, params: dict[str, str | None]) -> int:
    """URI parameters from ``buf[i] == ';'``; names and values are %-decoded."""
    while i < e and buf[i] == 59:
        i += 1
        ns = i
        while i < e and buf[i] != 59 and buf[i] != 63 and buf[i] != 61:
            i += 1
        if i == ns:
            raise SipParseError(400, "Empty parameter", ns)
        name = _text(_pct_decode(buf, ns, i).lower())
        value: str | None = None
        if i < e and buf[i] == 61:
            i += 1
            vs = i
            while i < e and buf[i] != 59 and buf[i] != 63:
                i += 1
            value = _text(_pct_decode(buf, vs, i))
        params[name] = value
    return i


def _uri_headers(buf: bytes, i: int, e: int, headers: dict[str, str]) -> None:
    """``?name=value&...`` kept escaped (a registrar stores them as they came)."""
    while True:
        j = i
        while j < e and buf[j] != 38:
            j += 1
        eq = i
        while eq < j and buf[eq] != 61:
            eq += 1
        if eq == i:
            raise SipParseError(400, "Malformed URI header", i)
        headers[_text(buf[i:eq])] = _text(buf[eq + 1 : j]) if eq < j else ""
        if j >= e:
            return
        i = j + 1


def _parse_uri(buf: bytes, s: int, e: int) -> Uri:
    if s >= e:
        raise SipParseError(400, "Empty URI", s)
    for i in range(s, e):
        if buf[i] in _URI_BAD:
            raise SipParseError(400, "Malformed URI", i)
    i = s
    if buf[i] not in _ALPHA:
        raise SipParseError(400, "Malformed URI", s)
    i += 1
    while i < e and buf[i] in _SCHEME:
        i += 1
    if i >= e or buf[i] != 58:
        raise SipParseError(400, "Malformed URI", i)
    uri = Uri()
    uri.scheme = buf[s:i].lower().decode("ascii")
    uri.user = uri.password = uri.host = uri.port = None
    uri.params = {}
    uri.headers = {}
    uri.text = _text(buf[s:e])
    if uri.scheme == "sip" or uri.scheme == "sips":
        _sip_uri(buf, i + 1, e, uri)
    elif uri.scheme == "tel":
        _tel_uri(buf, i + 1, e, uri)
    return uri


def _sip_uri(buf: bytes, p: int, e: int, uri: Uri) -> None:
    at = buf.find(b"@", p, e)
    h = p
    if at < 0:
        j = p
        while j < e and buf[j] != 59 and buf[j] != 63:
            j += 1
        if buf.find(b"%", p, j) >= 0:
            # snom PnP sends From/To <sip:MAC%3a000413...>: an escaped user and no host.
            uri.user = _text(_pct_decode(buf, p, j))
            _uri_rest(buf, j, e, uri)
            return
    else:
        colon = buf.find(b":", p, at)
        user_end = at
        if colon >= 0:
            user_end = colon
            uri.password = _text(_pct_decode(buf, colon + 1, at))
        if user_end == p:
            raise SipParseError(400, "Empty user", p)
        uri.user = _text(_pct_decode(buf, p, user_end))
        h = at + 1
    i = _host_end(buf, h, e)
    uri.host = _text(buf[h:i])
    if i < e and buf[i] == 58:
        uri.port, i = _port(buf, i + 1, e)
    _uri_rest(buf, i, e, uri)


def _uri_rest(buf: bytes, i: int, e: int, uri: Uri) -> None:
    """URI parameters and headers after the host (or user), up to the URI's end."""
    i = _uri_params(buf, i, e, uri.params)
    if i < e and buf[i] == 63:
        _uri_headers(buf, i + 1, e, uri.headers)
        i = e
    if i != e:
        raise SipParseError(400, "Malformed URI", i)


def _tel_uri(buf: bytes, p: int, e: int, uri: Uri) -> None:
    i = p
    while i < e and buf[i] != 59:
        i += 1
    if i == p:
        raise SipParseError(400, "Malformed URI", p)
    uri.user = _text(_pct_decode(buf, p, i))
    i = _uri_params(buf, i, e, uri.params)
    if i != e:
        raise SipParseError(400, "Malformed URI", i)


class Address:
    """name-addr or addr-spec with header parameters (From, To, Contact, ...)."""

    __slots__ = ("display_name", "expires", "instance", "params", "q", "reg_id", "tag", "uri")

    display_name: str | None
    uri: Uri
    tag: str | None
    params: dict[str, str | None]
    expires: int | None
    q: float | None
    instance: str | None
    reg_id: int | None

    def __repr__(self) -> str:
        return f"Address({self.display_name!r}, {self.uri.text!r}, {self.params!r})"


def _parse_address(buf: bytes, s: int, e: int) -> Address:
    if s >= e:
        raise SipParseError(400, "Empty address", s)
    i = s
    display: str | None = None
    if buf[i] == 34:
        display, i = _quoted(buf, i, e)
        i = _skip_lws(buf, i, e)
        if i >= e or buf[i] != 60:
            raise SipParseError(400, "Expected <", i)
    elif buf[i] != 60:
        j = i
        while j < e and (buf[j] in _TOKEN or buf[j] in _LWS):
            j += 1
        if j < e and buf[j] == 60:
            display = _text(buf[i : _rtrim(buf, i, j)])
            i = j
    if i < e and buf[i] == 60:
        gt = buf.find(b">", i + 1, e)
        if gt < 0:
            raise SipParseError(400, "Unterminated <", i)
        uri = _parse_uri(buf, i + 1, gt)
        i = gt + 1
    else:
        j = buf.find(b";", i, e)
        if j < 0:
            j = e
        ue = _rtrim(buf, i, j)
        q = buf.find(b"?", i, ue)
        if q >= 0:
            raise SipParseError(400, "URI with headers must be enclosed in <>", q)
        uri = _parse_uri(buf, i, ue)
        i = j
    ps = i
    params, i = _header_params(buf, i, e)
    if i != e:
        raise SipParseError(400, "Malformed address", i)
    addr = Address()
    addr.display_name = display
    addr.uri = uri
    addr.params = params
    addr.tag = params.get("tag")
    addr.instance = params.get("+sip.instance")
    addr.expires = addr.q = addr.reg_id = None
    value = params.get("expires")
    if value is not None:
        addr.expires = _uint_text(value, _DELTA_MAX, "Invalid expires parameter", ps)
    value = params.get("q")
    if value is not None:
        addr.q = _qvalue(value, ps)
    value = params.get("reg-id")
    if value is not None:
        addr.reg_id = _uint_text(value, _DELTA_MAX, "Invalid reg-id", ps)
    return addr
