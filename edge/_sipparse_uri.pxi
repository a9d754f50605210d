# URIs (sip, sips, tel; other schemes keep only scheme and text) and name-addr / addr-spec
# addresses (From, To, Contact). Included by _sipparse.pyx; mirrors
# edge/_sipparse_py/uri.py.
#
# Uri, Address and Via check their whole grammar when parsed (so errors come exactly when
# the twin raises them) but keep only spans into the message buffer; each str, int and
# dict is built the first time it is read, then kept.

cdef enum:
    U_USER = 1
    U_PASSWORD = 2
    U_HOST = 4
    U_PARAMS = 8
    U_HEADERS = 16
    U_TEXT = 32


@cython.final
@cython.freelist(32)
cdef class Uri:
    """A SIP, SIPS or tel URI (other schemes keep only ``scheme`` and ``text``)."""

    def __str__(self):
        return self.text

    def __repr__(self):
        return f"Uri({self.text!r})"

    @property
    def user(self):
        if not self._have & U_USER:
            if self._u.us >= 0:
                self._user = _pct_text(self._p, self._u.us, self._u.ue, False)
            self._have |= U_USER
        return self._user

    @property
    def password(self):
        if not self._have & U_PASSWORD:
            if self._u.ws >= 0:
                self._password = _pct_text(self._p, self._u.ws, self._u.we, False)
            self._have |= U_PASSWORD
        return self._password

    @property
    def host(self):
        if not self._have & U_HOST:
            if self._u.hs >= 0:
                self._host = _ascii(self._p, self._u.hs, self._u.he)
            self._have |= U_HOST
        return self._host

    @property
    def port(self):
        return None if self._u.port < 0 else self._u.port

    @property
    def params(self):
        cdef dict params
        if not self._have & U_PARAMS:
            params = {}
            if self._u.pe > self._u.ps:
                _uri_params(self._p, self._u.ps, self._u.pe, params)
            self._params = params
            self._have |= U_PARAMS
        return self._params

    @property
    def headers(self):
        cdef dict headers
        if not self._have & U_HEADERS:
            headers = {}
            if self._u.qs >= 0:
                _uri_headers(self._p, self._u.qs, self._u.qe, headers)
            self._headers = headers
            self._have |= U_HEADERS
        return self._headers

    @property
    def text(self):
        if not self._have & U_TEXT:
            self._text = _text(self._p, self._u.s, self._u.e)
            self._have |= U_TEXT
        return self._text


cdef Py_ssize_t _uri_params(cbuf p, Py_ssize_t i, Py_ssize_t e, dict params) except -1:
    """Checks URI parameters from ``p[i] == ';'``; fills ``params`` unless it is None."""
    cdef Py_ssize_t ns, vs
    cdef object value
    while i < e and p[i] == 59:
        i += 1
        ns = i
        while i < e and p[i] != 59 and p[i] != 63 and p[i] != 61:
            i += 1
        if i == ns:
            _fail(400, "Empty parameter", ns)
        vs = -1
        if i < e and p[i] == 61:
            i += 1
            vs = i
            while i < e and p[i] != 59 and p[i] != 63:
                i += 1
        if params is not None:
            name = _pct_text(p, ns, i if vs < 0 else vs - 1, True)
            value = None if vs < 0 else _pct_text(p, vs, i, False)
            params[name] = value
    return i


cdef int _uri_headers(cbuf p, Py_ssize_t i, Py_ssize_t e, dict headers) except -1:
    cdef Py_ssize_t j, eq
    while True:
        j = i
        while j < e and p[j] != 38:
            j += 1
        eq = i
        while eq < j and p[eq] != 61:
            eq += 1
        if eq == i:
            _fail(400, "Malformed URI header", i)
        if headers is not None:
            headers[_text(p, i, eq)] = _text(p, eq + 1, j) if eq < j else ""
        if j >= e:
            return 0
        i = j + 1


cdef Py_ssize_t _host_end(cbuf p, Py_ssize_t h, Py_ssize_t e) except -1:
    cdef Py_ssize_t j
    if h < e and p[h] == 91:
        j = h + 1
        while j < e and CLS[p[j]] & C_IPV6:
            j += 1
        if j == h + 1 or j >= e or p[j] != 93:
            _fail(400, "Malformed host", h)
        return j + 1
    j = _hostname_end(p, h, e)
    if j == h:
        _fail(400, "Malformed host", h)
    return j


cdef str S_SIP = "sip"
cdef str S_SIPS = "sips"
cdef str S_TEL = "tel"


cdef int _scheme_kind(cbuf p, Py_ssize_t s, Py_ssize_t e) noexcept:
    cdef Py_ssize_t n = e - s
    if n == 3 and _lower(p[s]) == 115 and _lower(p[s + 1]) == 105 and _lower(p[s + 2]) == 112:
        return 1
    if n == 4 and _lower(p[s]) == 115 and _lower(p[s + 1]) == 105 and _lower(p[s + 2]) == 112 \
            and _lower(p[s + 3]) == 115:
        return 2
    if n == 3 and _lower(p[s]) == 116 and _lower(p[s + 1]) == 101 and _lower(p[s + 2]) == 108:
        return 3
    return 0


cdef int _port_num(cbuf p, Py_ssize_t i, Py_ssize_t e, Py_ssize_t* stop) except -1:
    cdef Py_ssize_t j = i
    cdef long n = 0
    while j < e and CLS[p[j]] & C_DIGIT:
        n = n * 10 + (p[j] - 48) if j - i < 6 else n
        j += 1
    if j == i or j - i > 5 or n > 65535:
        _fail(400, "Invalid port", i)
    stop[0] = j
    return <int>n


cdef Uri _make_uri(bytes buf, cbuf p, USpan* u):
    """The Uri of a URI that _check_uri accepted."""
    cdef Uri uri = Uri.__new__(Uri)
    uri._buf = buf
    uri._p = p
    uri._u = u[0]
    uri._have = 0
    if u.kind == 1:
        uri.scheme = S_SIP
    elif u.kind == 2:
        uri.scheme = S_SIPS
    elif u.kind == 3:
        uri.scheme = S_TEL
    else:
        uri.scheme = _lower_text(p, u.s, u.sc)
    return uri


cdef int _check_uri(cbuf p, Py_ssize_t s, Py_ssize_t e, USpan* u) except -1:
    cdef Py_ssize_t i
    if s >= e:
        _fail(400, "Empty URI", s)
    i = sip_class_find(p, s, e, CLS, C_URI_BAD, 3)
    if i >= 0:
        _fail(400, "Malformed URI", i)
    i = s
    if not (CLS[p[i]] & C_ALPHA):
        _fail(400, "Malformed URI", s)
    i += 1
    while i < e and CLS[p[i]] & C_SCHEME:
        i += 1
    if i >= e or p[i] != 58:
        _fail(400, "Malformed URI", i)
    u.s = <int>s
    u.e = <int>e
    u.sc = <int>i
    u.us = u.ws = u.hs = u.port = u.qs = -1
    u.ps = u.pe = 0
    u.kind = _scheme_kind(p, s, i)
    if u.kind == 1 or u.kind == 2:
        _sip_uri(p, i + 1, e, u)
    elif u.kind == 3:
        _tel_uri(p, i + 1, e, u)
    return 0


cdef int _sip_uri(cbuf p, Py_ssize_t s, Py_ssize_t e, USpan* u) except -1:
    cdef Py_ssize_t at = _find(p, 64, s, e)
    cdef Py_ssize_t h = s, j, colon, user_end, i
    if at < 0:
        j = s
        while j < e and p[j] != 59 and p[j] != 63:
            j += 1
        if _find(p, 37, s, j) >= 0:
            # snom PnP sends From/To <sip:MAC%3a000413...>: an escaped user and no host.
            u.us = <int>s
            u.ue = <int>j
            return _uri_rest(p, j, e, u)
    else:
        colon = _find(p, 58, s, at)
        user_end = at
        if colon >= 0:
            user_end = colon
            u.ws = <int>colon + 1
            u.we = <int>at
        if user_end == s:
            _fail(400, "Empty user", s)
        u.us = <int>s
        u.ue = <int>user_end
        h = at + 1
    i = _host_end(p, h, e)
    u.hs = <int>h
    u.he = <int>i
    if i < e and p[i] == 58:
        u.port = _port_num(p, i + 1, e, &i)
    return _uri_rest(p, i, e, u)


cdef int _uri_rest(cbuf p, Py_ssize_t i, Py_ssize_t e, USpan* u) except -1:
    u.ps = <int>i
    i = _uri_params(p, i, e, None)
    u.pe = <int>i
    if i < e and p[i] == 63:
        _uri_headers(p, i + 1, e, None)
        u.qs = <int>i + 1
        u.qe = <int>e
        i = e
    if i != e:
        _fail(400, "Malformed URI", i)
    return 0


cdef int _tel_uri(cbuf p, Py_ssize_t s, Py_ssize_t e, USpan* u) except -1:
    cdef Py_ssize_t i = s
    while i < e and p[i] != 59:
        i += 1
    if i == s:
        _fail(400, "Malformed URI", s)
    u.us = <int>s
    u.ue = <int>i
    u.ps = <int>i
    i = _uri_params(p, i, e, None)
    u.pe = <int>i
    if i != e:
        _fail(400, "Malformed URI", i)
    return 0

# --- addresses ----------------------------------------------------------------------------


@cython.final
@cython.freelist(32)
cdef class Address:
    """name-addr or addr-spec with header parameters (From, To, Contact, ...)."""

    def __repr__(self):
        return f"Address({self.display_name!r}, {self.uri.text!r}, {self.params!r})"

    @property
    def uri(self):
        if self._uri is None:
            self._uri = _make_uri(self._buf, self._p, &self._u)
        return self._uri

    @property
    def params(self):
        cdef Py_ssize_t stop
        if self._params is None:
            self._params = _header_params(self._p, self._ps, self._pe, &stop)
        return self._params


cdef Address _parse_address(bytes buf, cbuf p, Py_ssize_t s, Py_ssize_t e):
    cdef Py_ssize_t i = s, j, gt, ue, q, ps
    cdef object display = None
    cdef USpan u
    cdef PV kv[N_PKEYS]
    if s >= e:
        _fail(400, "Empty address", s)
    if p[i] == 34:
        display = _quoted(p, i, e, &i)
        i = _skip_lws(p, i, e)
        if i >= e or p[i] != 60:
            _fail(400, "Expected <", i)
    elif p[i] != 60:
        j = i
        while j < e and CLS[p[j]] & (C_TOKEN | C_LWS):
            j += 1
        if j < e and p[j] == 60:
            display = _text(p, i, _rtrim(p, i, j))
            i = j
    if i < e and p[i] == 60:
        gt = _find(p, 62, i + 1, e)
        if gt < 0:
            _fail(400, "Unterminated <", i)
        _check_uri(p, i + 1, gt, &u)
        i = gt + 1
    else:
        j = _find(p, 59, i, e)
        if j < 0:
            j = e
        ue = _rtrim(p, i, j)
        q = _find(p, 63, i, ue)
        if q >= 0:
            _fail(400, "URI with headers must be enclosed in <>", q)
        _check_uri(p, i, ue, &u)
        i = j
    ps = i
    i = _check_params(p, i, e, kv)
    if i != e:
        _fail(400, "Malformed address", i)
    cdef Address addr = Address.__new__(Address)
    addr.display_name = display
    addr._u = u
    addr._buf = buf
    addr._p = p
    addr._ps = ps
    addr._pe = e
    addr.tag = _pvalue(p, &kv[P_TAG])
    addr.instance = _pvalue(p, &kv[P_INSTANCE])
    addr.expires = addr.q = addr.reg_id = None
    if kv[P_EXPIRES].s >= 0:
        addr.expires = _uint_param(p, &kv[P_EXPIRES], DELTA_MAX, "Invalid expires parameter", ps)
    if kv[P_Q].s >= 0:
        addr.q = _qvalue_param(p, &kv[P_Q], ps)
    if kv[P_REG_ID].s >= 0:
        addr.reg_id = _uint_param(p, &kv[P_REG_ID], DELTA_MAX, "Invalid reg-id", ps)
    return addr
