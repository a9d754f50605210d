# Credentials and challenges (Authorization, WWW-Authenticate, Proxy-Authenticate,
# Proxy-Authorization): a scheme and comma-separated auth-params. Included by
# _sipparse.pyx; mirrors edge/_sipparse_py/credentials.py.


@cython.final
@cython.freelist(8)
cdef class Auth:
    """Credentials or a challenge: ``Digest username="...", realm="...", ...``."""

    def __repr__(self):
        return f"Auth({self.scheme!r}, {self.params!r})"


cdef Auth _parse_auth(cbuf p, Py_ssize_t s, Py_ssize_t e):
    cdef Py_ssize_t se = _token_end(p, s, e), i, j, ns
    cdef ParamSpans sp
    cdef ParamSpan* a
    cdef Auth auth
    if se == s:
        _fail(400, "Malformed credentials", s)
    i = _skip_lws(p, se, e)
    if i < e and i == se:
        _fail(400, "Malformed credentials", i)
    _spans_init(&sp)
    try:
        while i < e:
            ns = i
            i = _token_end(p, i, e)
            if i == ns:
                _fail(400, "Malformed credentials", i)
            a = _spans_add(&sp, p, ns, i)
            j = i
            if j < e and CLS[p[j]] & C_LWS:
                j = _skip_lws(p, j, e)
            if j >= e or p[j] != 61:
                _fail(400, "Malformed credentials", j)
            j += 1
            if j < e and CLS[p[j]] & C_LWS:
                j = _skip_lws(p, j, e)
            i = _value_span(p, j, e, a, "Malformed credentials")
            if i < e and CLS[p[i]] & C_LWS:
                i = _skip_lws(p, i, e)
            if i < e:
                if p[i] != 44:
                    _fail(400, "Malformed credentials", i)
                i += 1
                if i < e and CLS[p[i]] & C_LWS:
                    i = _skip_lws(p, i, e)
        auth = Auth.__new__(Auth)
        auth.scheme = _word(p, s, se)
        auth.params = _params_dict(p, e, sp.a, sp.n)
        return auth
    finally:
        _spans_free(&sp)
