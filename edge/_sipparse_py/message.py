"""The message: the scan of the start line and header lines, Message with its lazily
parsed fields, CSeq and Event, ``parse`` and ``StreamParser`` (``_sipparse_message.pxi``).

Part of the pure-Python twin of ``edge._sipparse``; mirrors the compiled topic file
named above step for step.
"""

from __future__ import annotations

from typing import Any

from edge._sipparse_py.credentials import Auth, _parse_auth
from edge._sipparse_py.params import _header_params
from edge._sipparse_py.scanner import (
    _ALPHA,
    _CSEQ_MAX,
    _DELTA_MAX,
    _DIGIT,
    _SCHEME,
    _UNSET,
    _header_id,
    _rtrim,
    _skip_lws,
    _split,
    _text,
    _token_end,
    _uint,
    _unfold,
)
from edge._sipparse_py.uri import Address, Uri, _parse_address, _parse_uri
from edge._sipparse_py.via import Via, _parse_via
from edge.sipdefs import (
    H_AUTHORIZATION,
    H_CALL_ID,
    H_CONTACT,
    H_CONTENT_LENGTH,
    H_CSEQ,
    H_EVENT,
    H_EXPIRES,
    H_FROM,
    H_MAX_FORWARDS,
    H_TO,
    H_VIA,
    HEADER_IDS,
    LIST_HEADER_IDS,
    MAX_HEADER_LENGTH,
    MAX_HEADERS,
    MAX_MESSAGE_SIZE,
    SipParseError,
)


class CSeq:
    __slots__ = ("method", "number")

    number: int
    method: str

    def __repr__(self) -> str:
        return f"CSeq({self.number}, {self.method!r})"


class Event:
    __slots__ = ("package", "params")

    package: str
    params: dict[str, str | None]

    def __repr__(self) -> str:
        return f"Event({self.package!r}, {self.params!r})"


def _parse_cseq(buf: bytes, s: int, e: int) -> CSeq:
    i = s
    while i < e and buf[i] in _DIGIT:
        i += 1
    number = _uint(buf, s, i, _CSEQ_MAX, "Invalid CSeq")
    ms = _skip_lws(buf, i, e)
    me = _token_end(buf, ms, e)
    if ms == i or me == ms or me != e:
        raise SipParseError(400, "Invalid CSeq", s)
    cseq = CSeq()
    cseq.number = number
    cseq.method = _text(buf[ms:me])
    return cseq


def _parse_event(buf: bytes, s: int, e: int) -> Event:
    pe = _token_end(buf, s, e)
    if pe == s:
        raise SipParseError(400, "Malformed Event", s)
    params, i = _header_params(buf, pe, e)
    if i != e:
        raise SipParseError(400, "Malformed Event", i)
    event = Event()
    event.package = _text(buf[s:pe])
    event.params = params
    return event


# A header slot: (id, name start, name end, value start, value end); the value is trimmed.
_Slot = tuple[int, int, int, int, int]


class Message:
    """A parsed SIP request or response; structured fields are parsed on first access."""

    __slots__ = (
        "_authorization",
        "_body_start",
        "_buf",
        "_call_id",
        "_contacts",
        "_cseq",
        "_end",
        "_event",
        "_expires",
        "_from",
        "_headers",
        "_line_end",
        "_max_forwards",
        "_start",
        "_to",
        "_uri",
        "_uri_span",
        "_via",
        "content_length",
        "is_request",
        "method",
        "reason",
        "status",
        "version",
    )

    _buf: bytes
    _start: int
    _end: int
    _line_end: int
    _headers: list[_Slot]
    _body_start: int
    is_request: bool
    method: str | None
    status: int | None
    reason: str | None
    version: str
    content_length: int | None
    _uri_span: tuple[int, int]
    # Lazily parsed fields hold _UNSET until first read.
    _uri: Any
    _via: Any
    _from: Any
    _to: Any
    _contacts: Any
    _call_id: Any
    _cseq: Any
    _max_forwards: Any
    _expires: Any
    _event: Any
    _authorization: Any

    # -- header access -------------------------------------------------------------------

    def _slots_named(self, name: str) -> list[_Slot]:
        key = name.encode("utf-8", "surrogateescape").lower()
        hid = HEADER_IDS.get(key, 0)
        if hid:
            return [h for h in self._headers if h[0] == hid]
        buf = self._buf
        return [h for h in self._headers if h[0] == 0 and buf[h[1] : h[2]].lower() == key]

    def header(self, name: str) -> str | None:
        """First value of header ``name`` (long or compact form, any case), unfolded."""
        for h in self._slots_named(name):
            return _text(_unfold(self._buf, h[3], h[4]))
        return None

    def header_values(self, name: str) -> list[str]:
        """Every value of ``name``: list headers split at commas, others one per line."""
        buf = self._buf
        out: list[str] = []
        for h in self._slots_named(name):
            if h[0] in LIST_HEADER_IDS:
                for s, e in _split(buf, h[3], h[4]):
                    if e > s:
                        out.append(_text(_unfold(buf, s, e)))
            else:
                out.append(_text(_unfold(buf, h[3], h[4])))
        return out

    @property
    def headers(self) -> list[tuple[str, str]]:
        """Every header line as (name as sent, unfolded value), in order."""
        buf = self._buf
        return [(_text(buf[h[1] : h[2]]), _text(_unfold(buf, h[3], h[4]))) for h in self._headers]

    def _first(self, hid: int) -> _Slot | None:
        for h in self._headers:
            if h[0] == hid:
                return h
        return None

    # -- structured fields ---------------------------------------------------------------

    @property
    def uri(self) -> Uri | None:
        if self._uri is _UNSET:
            self._uri = _parse_uri(self._buf, *self._uri_span) if self.is_request else None
        result: Uri | None = self._uri
        return result

    @property
    def via(self) -> list[Via]:
        if self._via is _UNSET:
            self._via = self._list(H_VIA, _parse_via)
        result: list[Via] = self._via
        return result

    def _list(self, hid: int, parse_one: Any) -> list[Any]:
        buf = self._buf
        out = []
        for h in self._headers:
            if h[0] == hid:
                for s, e in _split(buf, h[3], h[4]):
                    if s == e:
                        raise SipParseError(400, "Empty list element", s)
                    out.append(parse_one(buf, s, e))
        return out

    @property
    def from_(self) -> Address | None:
        if self._from is _UNSET:
            h = self._first(H_FROM)
            self._from = None if h is None else _parse_address(self._buf, h[3], h[4])
        result: Address | None = self._from
        return result

    @property
    def to(self) -> Address | None:
        if self._to is _UNSET:
            h = self._first(H_TO)
            self._to = None if h is None else _parse_address(self._buf, h[3], h[4])
        result: Address | None = self._to
        return result

    @property
    def contacts(self) -> list[Address]:
        """Contact addresses in order; empty for ``Contact: *`` (see ``contact_star``)."""
        if self._contacts is _UNSET:
            self._contacts = [] if self.contact_star else self._list(H_CONTACT, _parse_address)
        result: list[Address] = self._contacts
        return result

    @property
    def contact_star(self) -> bool:
        """True for ``Contact: *`` (REGISTER removing every binding)."""
        buf = self._buf
        star = -1
        count = 0
        for h in self._headers:
            if h[0] == H_CONTACT:
                for s, e in _split(buf, h[3], h[4]):
                    count += 1
                    if e - s == 1 and buf[s] == 42:
                        star = s
        if star >= 0 and count > 1:
            raise SipParseError(400, "Contact * must be the only contact", star)
        return star >= 0

    @property
    def call_id(self) -> str | None:
        if self._call_id is _UNSET:
            h = self._first(H_CALL_ID)
            if h is not None and h[3] == h[4]:
                raise SipParseError(400, "Empty Call-ID", h[3])
            self._call_id = None if h is None else _text(_unfold(self._buf, h[3], h[4]))
        result: str | None = self._call_id
        return result

    @property
    def cseq(self) -> CSeq | None:
        if self._cseq is _UNSET:
            h = self._first(H_CSEQ)
            self._cseq = None if h is None else _parse_cseq(self._buf, h[3], h[4])
        result: CSeq | None = self._cseq
        return result

    @property
    def max_forwards(self) -> int | None:
        if self._max_forwards is _UNSET:
            h = self._first(H_MAX_FORWARDS)
            self._max_forwards = (
                None if h is None else _uint(self._buf, h[3], h[4], 255, "Invalid Max-Forwards")
            )
        result: int | None = self._max_forwards
        return result

    @property
    def expires(self) -> int | None:
        if self._expires is _UNSET:
            h = self._first(H_EXPIRES)
            self._expires = (
                None if h is None else _uint(self._buf, h[3], h[4], _DELTA_MAX, "Invalid Expires")
            )
        result: int | None = self._expires
        return result

    @property
    def event(self) -> Event | None:
        if self._event is _UNSET:
            h = self._first(H_EVENT)
            self._event = None if h is None else _parse_event(self._buf, h[3], h[4])
        result: Event | None = self._event
        return result

    @property
    def authorization(self) -> Auth | None:
        if self._authorization is _UNSET:
            h = self._first(H_AUTHORIZATION)
            self._authorization = None if h is None else _parse_auth(self._buf, h[3], h[4])
        result: Auth | None = self._authorization
        return result

    def auth(self, name: str) -> Auth | None:
        """First Authorization / WWW-Authenticate / Proxy-Authenticate / -Authorization."""
        for h in self._slots_named(name):
            return _parse_auth(self._buf, h[3], h[4])
        return None

    @property
    def body(self) -> bytes:
        return self._buf[self._body_start : self._end]

    # -- serialisation -------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """Wire form: start line, ``Name: value`` lines unfolded, Content-Length, body."""
        buf = self._buf
        out = [buf[self._start : self._line_end], b"\r\n"]
        for h in self._headers:
            out += (buf[h[1] : h[2]], b": ", _unfold(buf, h[3], h[4]), b"\r\n")
        if self.content_length is None:
            out.append(b"Content-Length: %d\r\n" % (self._end - self._body_start))
        out += (b"\r\n", buf[self._body_start : self._end])
        return b"".join(out)

    def __repr__(self) -> str:
        if self.is_request:
            return f"<Message {self.method} {_text(self._buf[slice(*self._uri_span)])}>"
        return f"<Message {self.status} {self.reason}>"


def _version_end(buf: bytes, i: int, e: int) -> int:
    """End of ``SIP/1*DIGIT.1*DIGIT`` at ``i`` ("SIP" in any case), or -1."""
    if e - i < 7 or buf[i : i + 4].upper() != b"SIP/":
        return -1
    j = i + 4
    k = j
    while k < e and buf[k] in _DIGIT:
        k += 1
    if k == j or k >= e or buf[k] != 46:
        return -1
    j = k + 1
    k = j
    while k < e and buf[k] in _DIGIT:
        k += 1
    return k if k > j else -1


def _line_end(buf: bytes, pos: int, end: int, reason: str) -> int:
    """Index of the CR of the CRLF ending the line at ``pos``; bare CR or LF is an error."""
    nl = buf.find(b"\n", pos, end)
    if nl < 0:
        raise SipParseError(400, reason, pos)
    cr = buf.find(b"\r", pos, nl)
    if cr != nl - 1 or cr < pos:
        raise SipParseError(400, "Bare CR or LF", cr if cr >= 0 else nl)
    return cr


def _start_line(msg: Message, buf: bytes, pos: int, end: int, max_hlen: int) -> int:
    le = _line_end(buf, pos, end, "Truncated start line")
    if le - pos > max_hlen:
        raise SipParseError(400, "Start line too long", pos)
    msg._line_end = le
    if le - pos >= 4 and buf[pos : pos + 4].upper() == b"SIP/":
        _status_line(msg, buf, pos, le)
    else:
        _request_line(msg, buf, pos, le)
    return le + 2


def _status_line(msg: Message, buf: bytes, pos: int, le: int) -> None:
    ve = _version_end(buf, pos, le)
    if ve < 0 or ve >= le or buf[ve] != 32:
        raise SipParseError(400, "Malformed status line", pos if ve < 0 else ve)
    c = ve + 1
    if (
        le - c < 3
        or buf[c] not in b"123456"
        or buf[c + 1] not in _DIGIT
        or buf[c + 2] not in _DIGIT
        or (le > c + 3 and buf[c + 3] != 32)
    ):
        raise SipParseError(400, "Invalid status code", c)
    msg.is_request = False
    msg.method = None
    msg._uri_span = (c, c)
    msg.version = _text(buf[pos:ve])
    msg.status = int(buf[c : c + 3])
    msg.reason = _text(buf[c + 4 : le]) if le > c + 3 else ""


def _request_line(msg: Message, buf: bytes, pos: int, le: int) -> None:
    me = _token_end(buf, pos, le)
    if me == pos or me >= le or buf[me] != 32:
        raise SipParseError(400, "Malformed request line", me)
    us = me + 1
    ue = buf.find(b" ", us, le)
    if ue < 0:
        ue = le
    if ue == us:
        raise SipParseError(400, "Malformed request line", us)
    for i in range(us, ue):
        if buf[i] < 33 or buf[i] == 127:
            raise SipParseError(400, "Malformed Request-URI", i)
    i = us
    if buf[i] in _ALPHA:
        i += 1
        while i < ue and buf[i] in _SCHEME:
            i += 1
    if i == us or i >= ue or buf[i] != 58:
        raise SipParseError(400, "Malformed Request-URI", us)
    if ue >= le or _version_end(buf, ue + 1, le) != le:
        raise SipParseError(400, "Malformed request line", ue)
    msg.is_request = True
    msg.method = _text(buf[pos:me])
    msg._uri_span = (us, ue)
    msg.version = _text(buf[ue + 1 : le])
    msg.status = None
    msg.reason = None


def _scan(
    buf: bytes, end: int, stream: bool, max_size: int, max_headers: int, max_hlen: int
) -> Message:
    """Scan start line and headers of the message at the start of ``buf[:end]``.

    Datagram mode (``stream`` false): a missing Content-Length means the rest of the
    datagram and a Content-Length past ``end`` is an error. Stream mode: a missing
    Content-Length means no body and the returned message may end past ``end`` (the
    caller waits for more bytes).
    """
    pos = 0
    while pos + 1 < end and buf[pos] == 13 and buf[pos + 1] == 10:
        pos += 2
    if pos >= end:
        raise SipParseError(400, "Empty message", pos)
    msg = Message()
    msg._buf = buf
    msg._start = pos
    pos = _start_line(msg, buf, pos, end, max_hlen)
    headers: list[_Slot] = []
    cl = -1
    while True:
        if pos + 1 < end and buf[pos] == 13 and buf[pos + 1] == 10:
            pos += 2
            break
        if pos >= end:
            raise SipParseError(400, "Truncated header section", pos)
        if len(headers) >= max_headers:
            raise SipParseError(400, "Too many headers", pos)
        ns = pos
        ne = _token_end(buf, pos, end)
        if ne == ns:
            raise SipParseError(400, "Malformed header line", ns)
        i = ne
        while i < end and (buf[i] == 32 or buf[i] == 9):
            i += 1
        if i >= end or buf[i] != 58:
            raise SipParseError(400, "Malformed header line", i)
        vs = i + 1
        seg = vs
        while True:
            le = _line_end(buf, seg, end, "Truncated header section")
            if le - ns > max_hlen:
                raise SipParseError(400, "Header too long", ns)
            seg = le + 2
            if not (seg < end and (buf[seg] == 32 or buf[seg] == 9)):
                break
        pos = seg
        vs = _skip_lws(buf, vs, le)
        ve = _rtrim(buf, vs, le)
        hid = _header_id(buf[ns:ne])
        if hid == H_CONTENT_LENGTH:
            n = _content_length(buf, vs, ve, max_size)
            if cl < 0:
                cl = n
            elif n != cl and stream:
                raise SipParseError(400, "Conflicting Content-Length", ns)
        headers.append((hid, ns, ne, vs, ve))
    msg._headers = headers
    msg._body_start = pos
    if cl < 0:
        msg.content_length = None
        msg._end = pos if stream else end
    else:
        msg.content_length = cl
        msg._end = pos + cl
        if not stream and msg._end > end:
            raise SipParseError(400, "Content-Length larger than message", pos)
    _init_cache(msg)
    return msg


def _content_length(buf: bytes, s: int, e: int, max_size: int) -> int:
    if s >= e:
        raise SipParseError(400, "Invalid Content-Length", s)
    n = 0
    for i in range(s, e):
        c = buf[i]
        if c < 48 or c > 57:
            raise SipParseError(400, "Invalid Content-Length", s)
        n = n * 10 + (c - 48)
        if n > max_size:
            raise SipParseError(513, "Content-Length too large", s)
    return n


def _init_cache(msg: Message) -> None:
    msg._uri = msg._via = msg._from = msg._to = msg._contacts = _UNSET
    msg._call_id = msg._cseq = msg._max_forwards = msg._expires = _UNSET
    msg._event = msg._authorization = _UNSET


def parse(
    data: bytes,
    *,
    max_size: int = MAX_MESSAGE_SIZE,
    max_headers: int = MAX_HEADERS,
    max_header_length: int = MAX_HEADER_LENGTH,
) -> Message:
    """Parse one SIP message from a UDP datagram (trailing octets past the body are ignored).

    Raises ``SipParseError`` when the start line or header section is malformed or a
    size limit is exceeded. Structured fields are checked when first read.
    """
    buf = data if type(data) is bytes else bytes(data)
    if max_size > 0x7FFFFFFF:
        raise ValueError("max_size must fit in 31 bits")
    if len(buf) > max_size:
        raise SipParseError(513, "Message too large", max_size)
    return _scan(buf, len(buf), False, max_size, max_headers, max_header_length)


class StreamParser:
    """Frames SIP messages out of a TCP/TLS byte stream; bytes may arrive split anywhere.

    ``feed`` returns the messages completed by the new bytes. When the stream turns out
    malformed, the messages before the fault are returned and ``SipParseError`` is raised
    by the next ``feed`` (``feed(b"")`` flushes it) and by every one after: a stream
    cannot be re-synchronised, the connection should be closed.
    """

    __slots__ = (
        "_buf",
        "_error",
        "_need",
        "_searched",
        "max_header_length",
        "max_headers",
        "max_size",
    )

    def __init__(
        self,
        *,
        max_size: int = MAX_MESSAGE_SIZE,
        max_headers: int = MAX_HEADERS,
        max_header_length: int = MAX_HEADER_LENGTH,
    ) -> None:
        if max_size > 0x7FFFFFFF:
            raise ValueError("max_size must fit in 31 bits")
        self._buf = bytearray()
        self._searched = 0  # bytes already searched for the end of the header section
        self._need = -1  # total length of the message being received, once known
        self._error: SipParseError | None = None
        self.max_size = max_size
        self.max_headers = max_headers
        self.max_header_length = max_header_length

    @property
    def buffered(self) -> int:
        """Bytes received but not yet part of a complete message."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[Message]:
        if self._error is not None:
            raise self._error
        self._buf += data
        out: list[Message] = []
        try:
            while True:
                msg = self._next()
                if msg is None:
                    return out
                out.append(msg)
        except SipParseError as exc:
            # Messages completed before the error are delivered first; the error comes
            # with the next feed, so framing does not depend on how the bytes were split.
            self._error = exc
            if out:
                return out
            raise

    def _next(self) -> Message | None:
        buf = self._buf
        if self._need < 0:
            # Keep-alive CRLFs between messages (RFC 5626 section 3.5.1) are skipped.
            skip = 0
            while skip + 1 < len(buf) and buf[skip] == 13 and buf[skip + 1] == 10:
                skip += 2
            if skip:
                del buf[:skip]
                self._searched = 0
            hend = buf.find(b"\r\n\r\n", max(self._searched - 3, 0))
            if hend < 0:
                self._searched = len(buf)
                if len(buf) > self.max_size:
                    raise SipParseError(513, "Message too large", self.max_size)
                return None
            head = self._scan(bytes(buf[: hend + 4]))
            if head._end > self.max_size:
                raise SipParseError(513, "Message too large", self.max_size)
            self._need = head._end
        if len(buf) < self._need:
            return None
        msg = self._scan(bytes(buf[: self._need]))
        del buf[: self._need]
        self._need = -1
        self._searched = 0
        return msg

    def _scan(self, raw: bytes) -> Message:
        return _scan(raw, len(raw), True, self.max_size, self.max_headers, self.max_header_length)
