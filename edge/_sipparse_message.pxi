# The message: the scan of the start line and header lines (spans only), Message with its
# lazily parsed fields, CSeq and Event, parse() and StreamParser. Included by
# _sipparse.pyx; mirrors edge/_sipparse_py/message.py.


@cython.final
@cython.freelist(8)
cdef class CSeq:
    def __repr__(self):
        return f"CSeq({self.number}, {self.method!r})"


@cython.final
@cython.freelist(8)
cdef class Event:
    def __repr__(self):
        return f"Event({self.package!r}, {self.params!r})"


cdef CSeq _parse_cseq(cbuf p, Py_ssize_t s, Py_ssize_t e, str method):
    cdef Py_ssize_t i = s, ms, me
    while i < e and CLS[p[i]] & C_DIGIT:
        i += 1
    cdef long long number = _uint(p, s, i, CSEQ_MAX, "Invalid CSeq")
    ms = _skip_lws(p, i, e)
    me = _token_end(p, ms, e)
    if ms == i or me == ms or me != e:
        _fail(400, "Invalid CSeq", s)
    cdef CSeq cseq = CSeq.__new__(CSeq)
    cseq.number = number
    cseq.method = _word(p, ms, me)
    return cseq


cdef Event _parse_event(cbuf p, Py_ssize_t s, Py_ssize_t e):
    cdef Py_ssize_t pe = _token_end(p, s, e), i
    if pe == s:
        _fail(400, "Malformed Event", s)
    cdef dict params = _header_params(p, pe, e, &i)
    if i != e:
        _fail(400, "Malformed Event", i)
    cdef Event event = Event.__new__(Event)
    event.package = _word(p, s, pe)
    event.params = params
    return event


cdef enum:  # Message._have: the lazy fields already made
    HAVE_URI = 1
    HAVE_VIA = 2
    HAVE_FROM = 4
    HAVE_TO = 8
    HAVE_CONTACTS = 16
    HAVE_CALL_ID = 32
    HAVE_CSEQ = 64
    HAVE_MAX_FORWARDS = 128
    HAVE_EXPIRES = 256
    HAVE_EVENT = 512
    HAVE_AUTHORIZATION = 1024


# --- the message --------------------------------------------------------------------------


cdef dict _NAME_CACHE = {}
cdef dict _HEADER_IDS = HEADER_IDS


cdef tuple _lookup_name(str name):
    """(header id, lower-cased name bytes) for a name given to header(); cached."""
    cdef object hit = _NAME_CACHE.get(name)
    if hit is None:
        key = name.encode("utf-8", "surrogateescape").lower()
        hit = (_HEADER_IDS.get(key, 0), key)
        if len(_NAME_CACHE) < 1024:  # names usually are literals; do not grow without bound
            _NAME_CACHE[name] = hit
    return <tuple>hit


cdef inline str _value_text(cbuf p, Slot* h):
    if h.folded:
        return _unfold_text(p, h.vs, h.ve)
    return _ascii(p, h.vs, h.ve)


@cython.final
@cython.freelist(16)
cdef class Message:
    """A parsed SIP request or response; structured fields are parsed on first access."""

    # method, version, reason, status, is_request: filled by the scan (the start line is
    # checked there, and decoding it cannot fail).

    # -- header access ---------------------------------------------------------------------

    cdef bint _matches(self, Slot* h, int hid, bytes key) noexcept:
        cdef Py_ssize_t n, k
        cdef cbuf kp
        if hid:
            return h.hid == hid
        if h.hid:
            return False
        n = len(key)
        if h.ne - h.ns != n:
            return False
        kp = <cbuf>PyBytes_AS_STRING(key)
        for k in range(n):
            if _lower(self._p[h.ns + k]) != kp[k]:
                return False
        return True

    cdef int _slot(self, int hid) noexcept:
        cdef int k
        if self._first[hid]:
            return self._first[hid] - 1
        if self._nhdr < 255:  # every known header below slot 255 is in _first
            return -1
        for k in range(self._nhdr):
            if self._hdr[k].hid == hid:
                return k
        return -1

    def header(self, str name):
        """First value of header ``name`` (long or compact form, any case), unfolded."""
        return self._header(name)

    def header_values(self, str name):
        """Every value of ``name``: list headers split at commas, others one per line."""
        return self._values(name)

    cdef object _header(self, str name):
        cdef tuple named = _lookup_name(name)
        cdef bytes key = named[1]
        cdef int hid = named[0]
        cdef int k
        if hid:
            k = self._slot(hid)
            return None if k < 0 else _value_text(self._p, &self._hdr[k])
        for k in range(self._nhdr):
            if self._matches(&self._hdr[k], hid, key):
                return _value_text(self._p, &self._hdr[k])
        return None

    cdef list _values(self, str name):
        cdef tuple named = _lookup_name(name)
        cdef bytes key = named[1]
        cdef int hid = named[0]
        cdef int k, m, n = 0
        cdef Py_ssize_t i, j, ts, te
        cdef Py_ssize_t item_s[N_ITEMS]
        # item_e: the element's end; -2 - end: a folded element; -1: the whole value of
        # the line whose slot index is in item_s
        cdef Py_ssize_t item_e[N_ITEMS]
        cdef list out
        cdef Slot* h
        # The spans first, then a list of the right size (appending would grow it 3 times
        # for a 10-method Allow); more than N_ITEMS values take the appending path below.
        # A known header's lines start at its first slot.
        k = self._slot(hid) if hid else 0
        if k < 0:
            return []
        for k in range(k, self._nhdr):
            h = &self._hdr[k]
            if not self._matches(h, hid, key):
                continue
            if hid and IS_LIST[hid]:
                if not h.folded:
                    m = sip_split_plain(self._p, h.vs, h.ve, &item_s[n], &item_e[n], N_ITEMS - n)
                    if m >= 0:
                        n += m
                        continue
                i = h.vs
                while True:
                    j = _elem_end(self._p, i, h.ve)
                    ts = _skip_lws(self._p, i, j)
                    te = _rtrim(self._p, ts, j)
                    if te > ts:
                        if n == N_ITEMS:
                            return self._header_values(hid, key)
                        item_s[n] = ts
                        item_e[n] = te if not h.folded else -2 - te
                        n += 1
                    if j >= h.ve:
                        break
                    i = j + 1
            else:
                if n == N_ITEMS:
                    return self._header_values(hid, key)
                item_s[n] = k
                item_e[n] = -1
                n += 1
        out = PyList_New(n)
        for k in range(n):
            if item_e[k] == -1:
                value = _value_text(self._p, &self._hdr[item_s[k]])
            elif item_e[k] >= 0:
                value = _word(self._p, item_s[k], item_e[k])
            else:
                value = _unfold_word(self._p, item_s[k], -2 - item_e[k])
            Py_INCREF(value)
            PyList_SET_ITEM(out, k, value)
        return out

    cdef list _header_values(self, int hid, bytes key):
        """header_values by appending, for any number of values."""
        cdef int k
        cdef Py_ssize_t i, j, ts, te
        cdef list out = []
        cdef Slot* h
        for k in range(self._nhdr):
            h = &self._hdr[k]
            if not self._matches(h, hid, key):
                continue
            if hid and IS_LIST[hid]:
                i = h.vs
                while True:
                    j = _elem_end(self._p, i, h.ve)
                    ts = _skip_lws(self._p, i, j)
                    te = _rtrim(self._p, ts, j)
                    if te > ts:
                        if h.folded:
                            out.append(_unfold_word(self._p, ts, te))
                        else:
                            out.append(_word(self._p, ts, te))
                    if j >= h.ve:
                        break
                    i = j + 1
            else:
                out.append(_value_text(self._p, h))
        return out

    @property
    def headers(self):
        """Every header line as (name as sent, unfolded value), in order."""
        cdef int k
        return [
            (_text(self._p, self._hdr[k].ns, self._hdr[k].ne),
             _value_text(self._p, &self._hdr[k]))
            for k in range(self._nhdr)
        ]

    # -- structured fields -----------------------------------------------------------------

    @property
    def uri(self):
        if not self._have & HAVE_URI:
            self._uri = self._request_uri() if self._isreq else None
            self._have |= HAVE_URI
        return self._uri

    cdef Uri _request_uri(self):
        cdef USpan u
        _check_uri(self._p, self._us, self._ue, &u)
        return _make_uri(self._buf, self._p, &u)

    cdef list _list(self, int hid):
        """The parsed elements of every ``hid`` line (Via, Contact), in order."""
        cdef list out = []
        cdef int k = self._slot(hid)
        cdef Py_ssize_t i, j, ts, te
        cdef Slot* h
        if k < 0:
            return out
        for k in range(k, self._nhdr):
            h = &self._hdr[k]
            if h.hid != hid:
                continue
            i = h.vs
            while True:
                j = _elem_end(self._p, i, h.ve)
                ts = _skip_lws(self._p, i, j)
                te = _rtrim(self._p, ts, j)
                if ts == te:
                    _fail(400, "Empty list element", ts)
                if hid == H_VIA:
                    out.append(_parse_via(self._buf, self._p, ts, te))
                else:
                    out.append(_parse_address(self._buf, self._p, ts, te))
                if j >= h.ve:
                    break
                i = j + 1
        return out

    @property
    def via(self):
        if not self._have & HAVE_VIA:
            self._via = self._list(H_VIA)
            self._have |= HAVE_VIA
        return self._via

    cdef object _address(self, int hid):
        cdef int k = self._slot(hid)
        if k < 0:
            return None
        return _parse_address(self._buf, self._p, self._hdr[k].vs, self._hdr[k].ve)

    @property
    def from_(self):
        if not self._have & HAVE_FROM:
            self._from = self._address(H_FROM)
            self._have |= HAVE_FROM
        return self._from

    @property
    def to(self):
        if not self._have & HAVE_TO:
            self._to = self._address(H_TO)
            self._have |= HAVE_TO
        return self._to

    @property
    def contacts(self):
        """Contact addresses in order; empty for ``Contact: *`` (see ``contact_star``)."""
        if not self._have & HAVE_CONTACTS:
            self._contacts = self._contact_list()
            self._have |= HAVE_CONTACTS
        return self._contacts

    cdef list _contact_list(self):
        """[] if _contact_star() else _list(H_CONTACT), splitting the values only once."""
        cdef Py_ssize_t ts_[8]
        cdef Py_ssize_t te_[8]
        cdef Py_ssize_t star = -1, i, j, ts, te
        cdef int n = 0, k
        cdef Slot* h
        cdef list out = []
        for k in range(self._nhdr):
            h = &self._hdr[k]
            if h.hid != H_CONTACT:
                continue
            i = h.vs
            while True:
                j = _elem_end(self._p, i, h.ve)
                ts = _skip_lws(self._p, i, j)
                te = _rtrim(self._p, ts, j)
                if n == 8:
                    return [] if self._contact_star() else self._list(H_CONTACT)
                ts_[n] = ts
                te_[n] = te
                n += 1
                if te - ts == 1 and self._p[ts] == 42:
                    star = ts
                if j >= h.ve:
                    break
                i = j + 1
        if star >= 0:
            if n > 1:
                _fail(400, "Contact * must be the only contact", star)
            return out
        for k in range(n):
            if ts_[k] == te_[k]:
                _fail(400, "Empty list element", ts_[k])
            out.append(_parse_address(self._buf, self._p, ts_[k], te_[k]))
        return out

    cdef bint _contact_star(self) except -1:
        cdef Py_ssize_t star = -1, i, j, ts, te
        cdef int count = 0, k
        cdef Slot* h
        for k in range(self._nhdr):
            h = &self._hdr[k]
            if h.hid != H_CONTACT:
                continue
            i = h.vs
            while True:
                j = _elem_end(self._p, i, h.ve)
                ts = _skip_lws(self._p, i, j)
                te = _rtrim(self._p, ts, j)
                count += 1
                if te - ts == 1 and self._p[ts] == 42:
                    star = ts
                if j >= h.ve:
                    break
                i = j + 1
        if star >= 0 and count > 1:
            _fail(400, "Contact * must be the only contact", star)
        return star >= 0

    @property
    def contact_star(self):
        """True for ``Contact: *`` (REGISTER removing every binding)."""
        return self._contact_star()

    @property
    def call_id(self):
        cdef int k
        if not self._have & HAVE_CALL_ID:
            k = self._slot(H_CALL_ID)
            if k >= 0 and self._hdr[k].vs == self._hdr[k].ve:
                _fail(400, "Empty Call-ID", self._hdr[k].vs)
            self._call_id = (
                None if k < 0 else _value_text(self._p, &self._hdr[k])
            )
            self._have |= HAVE_CALL_ID
        return self._call_id

    @property
    def cseq(self):
        cdef int k
        if not self._have & HAVE_CSEQ:
            k = self._slot(H_CSEQ)
            self._cseq = (
                None if k < 0
                else _parse_cseq(self._p, self._hdr[k].vs, self._hdr[k].ve, self.method)
            )
            self._have |= HAVE_CSEQ
        return self._cseq

    @property
    def max_forwards(self):
        cdef int k
        if not self._have & HAVE_MAX_FORWARDS:
            k = self._slot(H_MAX_FORWARDS)
            self._max_forwards = (
                None if k < 0
                else _uint(self._p, self._hdr[k].vs, self._hdr[k].ve, 255, "Invalid Max-Forwards")
            )
            self._have |= HAVE_MAX_FORWARDS
        return self._max_forwards

    @property
    def expires(self):
        cdef int k
        if not self._have & HAVE_EXPIRES:
            k = self._slot(H_EXPIRES)
            self._expires = (
                None if k < 0
                else _uint(self._p, self._hdr[k].vs, self._hdr[k].ve, DELTA_MAX, "Invalid Expires")
            )
            self._have |= HAVE_EXPIRES
        return self._expires

    @property
    def event(self):
        cdef int k
        if not self._have & HAVE_EVENT:
            k = self._slot(H_EVENT)
            self._event = (
                None if k < 0 else _parse_event(self._p, self._hdr[k].vs, self._hdr[k].ve)
            )
            self._have |= HAVE_EVENT
        return self._event

    @property
    def authorization(self):
        cdef int k
        if not self._have & HAVE_AUTHORIZATION:
            k = self._slot(H_AUTHORIZATION)
            self._authorization = (
                None if k < 0 else _parse_auth(self._p, self._hdr[k].vs, self._hdr[k].ve)
            )
            self._have |= HAVE_AUTHORIZATION
        return self._authorization

    def auth(self, str name):
        """First Authorization / WWW-Authenticate / Proxy-Authenticate / -Authorization."""
        cdef tuple named = _lookup_name(name)
        cdef bytes key = named[1]
        cdef int hid = named[0]
        cdef int k
        for k in range(self._nhdr):
            if self._matches(&self._hdr[k], hid, key):
                return _parse_auth(self._p, self._hdr[k].vs, self._hdr[k].ve)
        return None

    @property
    def body(self):
        return PyBytes_FromStringAndSize(
            <const char*>self._p + self._body_start, self._end - self._body_start
        )

    # -- serialisation ---------------------------------------------------------------------

    def to_bytes(self):
        """Wire form: start line, ``Name: value`` lines unfolded, Content-Length, body."""
        cdef list out = [self._buf[self._start:self._line_end], b"\r\n"]
        cdef int k
        cdef Slot* h
        for k in range(self._nhdr):
            h = &self._hdr[k]
            out.append(self._buf[h.ns:h.ne])
            out.append(b": ")
            out.append(_unfold(self._p, h.vs, h.ve))
            out.append(b"\r\n")
        if self.content_length is None:
            out.append(b"Content-Length: %d\r\n" % (self._end - self._body_start))
        out.append(b"\r\n")
        out.append(self._buf[self._body_start:self._end])
        return b"".join(out)

    def __repr__(self):
        if self._isreq:
            return f"<Message {self.method} {_text(self._p, self._us, self._ue)}>"
        return f"<Message {self.status} {self.reason}>"


# --- scanning -----------------------------------------------------------------------------


cdef Py_ssize_t _version_end(cbuf p, Py_ssize_t i, Py_ssize_t e) noexcept:
    cdef Py_ssize_t j, k
    if e - i < 7 or (p[i] | 32) != 115 or (p[i + 1] | 32) != 105 or (p[i + 2] | 32) != 112 \
            or p[i + 3] != 47:
        return -1
    j = i + 4
    k = j
    while k < e and CLS[p[k]] & C_DIGIT:
        k += 1
    if k == j or k >= e or p[k] != 46:
        return -1
    j = k + 1
    k = j
    while k < e and CLS[p[k]] & C_DIGIT:
        k += 1
    return k if k > j else -1


cdef Py_ssize_t _line_end(cbuf p, Py_ssize_t pos, Py_ssize_t end, str reason) except -1:
    cdef Py_ssize_t nl = _find(p, 10, pos, end), cr
    if nl < 0:
        _fail(400, reason, pos)
    cr = _find(p, 13, pos, nl)
    if cr != nl - 1 or cr < pos:
        _fail(400, "Bare CR or LF", cr if cr >= 0 else nl)
    return cr


cdef inline bint _is_status_prefix(cbuf p, Py_ssize_t pos, Py_ssize_t le) noexcept:
    # Same test as the twin's buf[pos:pos+4].upper() == b"SIP/": ASCII case only.
    return (le - pos >= 4 and _lower(p[pos]) == 115 and _lower(p[pos + 1]) == 105
            and _lower(p[pos + 2]) == 112 and p[pos + 3] == 47)


cdef Py_ssize_t _start_line(Message msg, cbuf p, Py_ssize_t pos, Py_ssize_t end,
                            Py_ssize_t max_hlen) except -1:
    cdef Py_ssize_t le = sip_find_crlf(p, pos, end)
    if le < 0 or p[le] != 13 or le + 1 >= end or p[le + 1] != 10:
        le = _line_end(p, pos, end, "Truncated start line")  # raises
    if le - pos > max_hlen:
        _fail(400, "Start line too long", pos)
    msg._line_end = le
    if _is_status_prefix(p, pos, le):
        _status_line(msg, p, pos, le)
    else:
        _request_line(msg, p, pos, le)
    return le + 2


cdef int _status_line(Message msg, cbuf p, Py_ssize_t pos, Py_ssize_t le) except -1:
    cdef Py_ssize_t ve = _version_end(p, pos, le), c
    if ve < 0 or ve >= le or p[ve] != 32:
        _fail(400, "Malformed status line", pos if ve < 0 else ve)
    c = ve + 1
    if (le - c < 3 or p[c] < 49 or p[c] > 54 or not (CLS[p[c + 1]] & C_DIGIT)
            or not (CLS[p[c + 2]] & C_DIGIT) or (le > c + 3 and p[c + 3] != 32)):
        _fail(400, "Invalid status code", c)
    msg._isreq = False
    msg.is_request = False
    msg._us = msg._ue = c
    msg._vs = pos
    msg._ve = ve
    msg.status = (p[c] - 48) * 100 + (p[c + 1] - 48) * 10 + (p[c + 2] - 48)
    msg._rs = c + 4 if le > c + 3 else le
    msg._re = le
    msg.method = None
    msg.reason = _word(p, msg._rs, le)
    msg.version = _word(p, pos, ve)
    return 0


cdef int _request_line(Message msg, cbuf p, Py_ssize_t pos, Py_ssize_t le) except -1:
    cdef Py_ssize_t me = _token_end(p, pos, le), us, ue, i
    if me == pos or me >= le or p[me] != 32:
        _fail(400, "Malformed request line", me)
    us = me + 1
    ue = _find(p, 32, us, le)
    if ue < 0:
        ue = le
    if ue == us:
        _fail(400, "Malformed request line", us)
    for i in range(us, ue):
        if p[i] < 33 or p[i] == 127:
            _fail(400, "Malformed Request-URI", i)
    i = us
    if CLS[p[i]] & C_ALPHA:
        i += 1
        while i < ue and CLS[p[i]] & C_SCHEME:
            i += 1
    if i == us or i >= ue or p[i] != 58:
        _fail(400, "Malformed Request-URI", us)
    if ue >= le or _version_end(p, ue + 1, le) != le:
        _fail(400, "Malformed request line", ue)
    msg._isreq = True
    msg.is_request = True
    msg._ms = pos
    msg._me = me
    msg._us = us
    msg._ue = ue
    msg._vs = ue + 1
    msg._ve = le
    msg.status = None
    msg.method = _word(p, pos, me)
    msg.reason = None
    msg.version = _word(p, ue + 1, le)
    return 0


cdef Py_ssize_t _content_length(cbuf p, Py_ssize_t s, Py_ssize_t e, Py_ssize_t max_size) except -1:
    cdef Py_ssize_t n = 0, i
    if s >= e:
        _fail(400, "Invalid Content-Length", s)
    for i in range(s, e):
        if not (CLS[p[i]] & C_DIGIT):
            _fail(400, "Invalid Content-Length", s)
        n = n * 10 + (p[i] - 48)
        if n > max_size:
            _fail(513, "Content-Length too large", s)
    return n


cdef inline bint _is_sp(unsigned char c) noexcept:
    return c == 32 or c == 9


cdef int _scan_simple(cbuf p, Py_ssize_t* pos, Py_ssize_t end, Slot* slots, int n, int cap,
                      Py_ssize_t max_hlen) noexcept:
    """The common header lines: a token name, optional SP/HT, ':', a value on one line ended
    by CRLF and not continued (no folding). Fills slots[n:cap] and returns the new count;
    ``pos`` moves past each accepted line and stops at the first line this loop does not
    take (end of headers, folding, anything malformed, the line limit), which _scan then
    handles itself. ``hid`` is left 0."""
    cdef Py_ssize_t i = pos[0], ns, ne, vs, ve, le, seg
    while n < cap and i + 1 < end and not (p[i] == 13 and p[i + 1] == 10):
        ns = i
        ne = i = _token_end(p, i, end)
        if ne == ns:
            break
        while i < end and _is_sp(p[i]):
            i += 1
        if i >= end or p[i] != 58:
            break
        vs = i + 1
        le = sip_find_crlf(p, vs, end)
        if le < 0 or p[le] != 13 or le + 1 >= end or p[le + 1] != 10 or le - ns > max_hlen:
            break
        seg = le + 2
        if seg < end and _is_sp(p[seg]):
            break  # folded: _scan joins the lines
        while vs < le and _is_sp(p[vs]):
            vs += 1
        ve = le
        while ve > vs and _is_sp(p[ve - 1]):
            ve -= 1
        slots[n].hid = 0
        slots[n].ns = <int>ns
        slots[n].ne = <int>ne
        slots[n].vs = <int>vs
        slots[n].ve = <int>ve
        slots[n].folded = 0
        n += 1
        i = pos[0] = seg
    return n


cdef Message _scan(bytes data, Py_ssize_t end, bint stream, Py_ssize_t max_size,
                   Py_ssize_t max_headers, Py_ssize_t max_hlen):
    cdef cbuf p = <cbuf>PyBytes_AS_STRING(data)
    cdef Py_ssize_t pos = 0, ns, ne, i, vs, seg, le, ve, n, cl = -1
    cdef int cap, folded, k, done = 0
    cdef Slot* h
    while pos + 1 < end and p[pos] == 13 and p[pos + 1] == 10:
        pos += 2
    if pos >= end:
        _fail(400, "Empty message", pos)
    cdef Message msg = Message.__new__(Message)
    msg._buf = data
    msg._p = p
    msg._start = pos
    pos = _start_line(msg, p, pos, end, max_hlen)
    cap = N_INLINE_SLOTS
    msg._hdr = &msg._slots[0]
    while True:
        # Most lines take the fast loop (_scan_simple); it stops at the first one it does not
        # take (folding, an error, the end of the headers), which the code below handles.
        msg._nhdr = _scan_simple(p, &pos, end, msg._hdr, msg._nhdr,
                                 cap if cap < max_headers else <int>max_headers, max_hlen)
        # The new slots, from the fast loop and from the line handled below on the last turn:
        # their header ids, and Content-Length (in line order, as the errors must be).
        for k in range(done, msg._nhdr):
            h = &msg._hdr[k]
            h.hid = _header_id(p + h.ns, h.ne - h.ns, h.ns + 16 <= end)
            if not msg._first[h.hid] and k < 255:
                msg._first[h.hid] = k + 1
            if h.hid == H_CONTENT_LENGTH:
                n = _content_length(p, h.vs, h.ve, max_size)
                if cl < 0:
                    cl = n
                elif n != cl and stream:
                    _fail(400, "Conflicting Content-Length", h.ns)
        done = msg._nhdr
        if pos + 1 < end and p[pos] == 13 and p[pos + 1] == 10:
            pos += 2
            break
        if pos >= end:
            _fail(400, "Truncated header section", pos)
        if msg._nhdr >= max_headers:
            _fail(400, "Too many headers", pos)
        ns = pos
        ne = _name_end(p, pos, end)
        if ne == ns:
            _fail(400, "Malformed header line", ns)
        i = ne
        while i < end and (p[i] == 32 or p[i] == 9):
            i += 1
        if i >= end or p[i] != 58:
            _fail(400, "Malformed header line", i)
        vs = i + 1
        seg = vs
        folded = 0
        while True:
            le = sip_find_crlf(p, seg, end)
            if le < 0 or p[le] != 13 or le + 1 >= end or p[le + 1] != 10:
                le = _line_end(p, seg, end, "Truncated header section")  # raises
            if le - ns > max_hlen:
                _fail(400, "Header too long", ns)
            seg = le + 2
            if not (seg < end and (p[seg] == 32 or p[seg] == 9)):
                break
            folded = 1
        pos = seg
        vs = _skip_lws(p, vs, le)
        ve = _rtrim(p, vs, le)
        if msg._nhdr == cap:
            # Past the inline slots, the spans live in a bytes object the message owns, so
            # that freeing it needs no __dealloc__ (which costs every message an
            # exception save and restore).
            cap *= 2
            more = PyBytes_FromStringAndSize(NULL, cap * sizeof(Slot))
            memcpy(PyBytes_AS_STRING(more), msg._hdr, msg._nhdr * sizeof(Slot))
            msg._more = more
            msg._hdr = <Slot*>PyBytes_AS_STRING(more)
        msg._hdr[msg._nhdr].hid = 0  # set with the fast loop's slots, on the next turn
        msg._hdr[msg._nhdr].ns = ns
        msg._hdr[msg._nhdr].ne = ne
        msg._hdr[msg._nhdr].vs = vs
        msg._hdr[msg._nhdr].ve = ve
        msg._hdr[msg._nhdr].folded = folded
        msg._nhdr += 1
    msg._body_start = pos
    if cl < 0:
        msg.content_length = None
        msg._end = pos if stream else end
    else:
        msg.content_length = cl
        msg._end = pos + cl
        if not stream and pos + cl > end:
            _fail(400, "Content-Length larger than message", pos)
    return msg


def parse(data, *, Py_ssize_t max_size=MAX_MESSAGE_SIZE, Py_ssize_t max_headers=MAX_HEADERS,
          Py_ssize_t max_header_length=MAX_HEADER_LENGTH):
    """Parse one SIP message from a UDP datagram (trailing octets past the body are ignored).

    Raises ``SipParseError`` when the start line or header section is malformed or a
    size limit is exceeded. Structured fields are checked when first read. A bytes object
    is used in place; other buffers are copied once, because the lazily parsed message
    keeps reading its buffer and must not see it change.
    """
    cdef bytes buf = data if type(data) is bytes else bytes(data)
    if max_size > 0x7FFFFFFF:
        raise ValueError("max_size must fit in 31 bits")
    if PyBytes_GET_SIZE(buf) > max_size:
        _fail(513, "Message too large", max_size)
    return _scan(buf, PyBytes_GET_SIZE(buf), False, max_size, max_headers, max_header_length)


cdef class StreamParser:
    """Frames SIP messages out of a TCP/TLS byte stream; bytes may arrive split anywhere.

    ``feed`` returns the messages completed by the new bytes. When the stream turns out
    malformed, the messages before the fault are returned and ``SipParseError`` is raised
    by the next ``feed`` (``feed(b"")`` flushes it) and by every one after: a stream
    cannot be re-synchronised, the connection should be closed.
    """

    def __init__(self, *, Py_ssize_t max_size=MAX_MESSAGE_SIZE,
                 Py_ssize_t max_headers=MAX_HEADERS,
                 Py_ssize_t max_header_length=MAX_HEADER_LENGTH):
        if max_size > 0x7FFFFFFF:
            raise ValueError("max_size must fit in 31 bits")
        self._buf = bytearray()
        self._searched = 0
        self._need = -1
        self._error = None
        self.max_size = max_size
        self.max_headers = max_headers
        self.max_header_length = max_header_length

    @property
    def buffered(self):
        """Bytes received but not yet part of a complete message."""
        return len(self._buf)

    def feed(self, data):
        if self._error is not None:
            raise self._error
        self._buf += data
        cdef list out = []
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

    cdef object _next(self):
        cdef bytearray buf = self._buf
        cdef Py_ssize_t skip, hend
        cdef Message head
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
                    _fail(513, "Message too large", self.max_size)
                return None
            head = self._scan(bytes(buf[:hend + 4]))
            if head._end > self.max_size:
                _fail(513, "Message too large", self.max_size)
            self._need = head._end
        if len(buf) < self._need:
            return None
        msg = self._scan(bytes(buf[:self._need]))
        del buf[:self._need]
        self._need = -1
        self._searched = 0
        return msg

    cdef Message _scan(self, bytes raw):
        return _scan(raw, len(raw), True, self.max_size, self.max_headers,
                     self.max_header_length)
