# Via header values (RFC 3261 20.42): sent-protocol, sent-by and the parameters a proxy or
# registrar reads. Included by _sipparse.pyx; mirrors edge/_sipparse_py/via.py.


@cython.final
@cython.freelist(16)
cdef class Via:
    """One via-parm: ``SIP/2.0/UDP host:port;branch=...;received=...;rport``."""

    def __repr__(self):
        return f"Via({self.protocol}/{self.transport} {self.host}:{self.port} {self.params!r})"

    @property
    def host(self):
        if self._host is None:
            self._host = _ascii(self._p, self._hs, self._he)
        return self._host

    @property
    def port(self):
        return None if self._port < 0 else self._port

    @property
    def params(self):
        cdef Py_ssize_t stop
        if self._params is None:
            self._params = _header_params(self._p, self._ps, self._pe, &stop)
        return self._params


cdef str S_SIP20 = "SIP/2.0"
cdef str S_UDP = "UDP"
cdef str S_TCP = "TCP"
cdef str S_TLS = "TLS"


cdef inline bint _is(cbuf p, Py_ssize_t s, Py_ssize_t e, const char* lit, Py_ssize_t n) noexcept:
    cdef Py_ssize_t k
    if e - s != n:
        return False
    for k in range(n):
        if p[s + k] != <unsigned char>lit[k]:
            return False
    return True


cdef Via _parse_via(bytes buf, cbuf p, Py_ssize_t s, Py_ssize_t e):
    cdef Py_ssize_t ne, i, vs, ve, ts, te, h, he, ps
    cdef int port = -1
    cdef PV kv[N_PKEYS]
    ne = _token_end(p, s, e)
    if ne == s:
        _fail(400, "Malformed Via", s)
    i = _skip_lws(p, ne, e)
    if i >= e or p[i] != 47:
        _fail(400, "Malformed Via", i)
    vs = _skip_lws(p, i + 1, e)
    ve = _token_end(p, vs, e)
    if ve == vs:
        _fail(400, "Malformed Via", vs)
    i = _skip_lws(p, ve, e)
    if i >= e or p[i] != 47:
        _fail(400, "Malformed Via", i)
    ts = _skip_lws(p, i + 1, e)
    te = _token_end(p, ts, e)
    if te == ts:
        _fail(400, "Malformed Via", ts)
    h = _skip_lws(p, te, e)
    if h == te:
        _fail(400, "Malformed Via", h)
    he = _host_end(p, h, e)
    i = _skip_lws(p, he, e)
    if i < e and p[i] == 58:
        port = _port_num(p, _skip_lws(p, i + 1, e), e, &i)
    else:
        i = he
    ps = i
    i = _check_params(p, i, e, kv)
    if i != e:
        _fail(400, "Malformed Via", i)
    cdef Via via = Via.__new__(Via)
    if _is(p, s, ne, b"SIP", 3) and _is(p, vs, ve, b"2.0", 3):
        via.protocol = S_SIP20
    else:
        via.protocol = _text(p, s, ne) + "/" + _text(p, vs, ve)
    if _is(p, ts, te, b"UDP", 3):
        via.transport = S_UDP
    elif _is(p, ts, te, b"TCP", 3):
        via.transport = S_TCP
    elif _is(p, ts, te, b"TLS", 3):
        via.transport = S_TLS
    else:
        via.transport = _text(p, ts, te)
    via._buf = buf
    via._p = p
    via._hs = <int>h
    via._he = <int>he
    via._port = port
    via._ps = <int>ps
    via._pe = <int>e
    via.branch = _pvalue(p, &kv[P_BRANCH])
    via.received = _pvalue(p, &kv[P_RECEIVED])
    via.maddr = _pvalue(p, &kv[P_MADDR])
    via.has_rport = True if kv[P_RPORT].s != -2 else False
    via.rport = via.ttl = None
    if kv[P_RPORT].s >= 0:
        via.rport = _uint_param(p, &kv[P_RPORT], 65535, "Invalid rport", ps)
    if kv[P_TTL].s >= 0:
        via.ttl = _uint_param(p, &kv[P_TTL], 255, "Invalid ttl", ps)
    return via
