# Shared by every header with ;name=value parameters (Event, Via, addresses) and by the
# auth-params of credentials. Included by _sipparse.pyx; mirrors edge/_sipparse_py/params.py.
#
# Parameters are parsed in two passes: the first checks the grammar and notes each
# parameter's spans (and its shared lower-case name, when it is a common one), the second
# makes the values and the dict, so a malformed list raises before anything is built.

cdef enum:
    PARAMS_INLINE = 16  # parameters noted on the stack; more go to the heap


cdef struct ParamSpan:
    PyObject* name  # the shared lower-case name (PNAMES, borrowed), or NULL: made from p[ns:ne]
    int ns, ne, vs, ve  # value p[vs:ve]: the token, or the text between the quotes
    int kind  # PV_*


cdef enum:
    PV_TOKEN = 0
    PV_ASCII = 1  # quoted, ASCII, no escapes
    PV_TEXT = 2  # quoted, bytes past ASCII, no escapes
    PV_ESCAPED = 3  # quoted with backslash escapes (vs at the opening quote)
    PV_NONE = 4  # a name without a value


cdef struct ParamSpans:
    ParamSpan* a
    int n, cap
    ParamSpan inline[PARAMS_INLINE]


cdef inline void _spans_init(ParamSpans* sp) noexcept:
    sp.a = sp.inline
    sp.n = 0
    sp.cap = PARAMS_INLINE


cdef inline void _spans_free(ParamSpans* sp) noexcept:
    if sp.a != sp.inline:
        free(sp.a)


cdef inline ParamSpan* _spans_add(ParamSpans* sp, cbuf p, Py_ssize_t ns,
                                  Py_ssize_t ne) except NULL:
    """A new span for the parameter named p[ns:ne] (the array grows past the stack)."""
    cdef ParamSpan* grown
    if sp.n == sp.cap:
        grown = <ParamSpan*>malloc(2 * sp.cap * sizeof(ParamSpan))
        if grown == NULL:
            raise MemoryError()
        memcpy(grown, sp.a, sp.n * sizeof(ParamSpan))
        _spans_free(sp)
        sp.a = grown
        sp.cap *= 2
    grown = &sp.a[sp.n]
    sp.n += 1
    grown.ns = <int>ns
    grown.ne = <int>ne
    grown.name = sip_interned(PNAMES, p + ns, ne - ns, 1)
    grown.kind = PV_NONE
    return grown


cdef inline Py_ssize_t _quoted_span(cbuf p, Py_ssize_t j, Py_ssize_t e,
                                    ParamSpan* a) except -1:
    """Notes the quoted value at ``p[j] == '"'``; returns the index past it."""
    cdef int high
    cdef Py_ssize_t i = sip_quote_end(p, j + 1, e, &high)
    if i >= 0 and p[i] == 34:  # the common case: no backslash
        a.kind = PV_TEXT if high else PV_ASCII
        a.vs = <int>j + 1
        a.ve = <int>i
        return i + 1
    a.kind = PV_ESCAPED
    a.vs = <int>j
    return _quoted_end(p, j, e)


cdef inline Py_ssize_t _value_span(cbuf p, Py_ssize_t j, Py_ssize_t e, ParamSpan* a,
                                   str missing) except -1:
    """Notes the value at ``j``, a quoted string or a token; returns the index past it.
    ``missing``: the reason of the error when there is neither."""
    cdef Py_ssize_t i
    if j < e and p[j] == 34:
        return _quoted_span(p, j, e, a)
    i = _pvalue_end(p, j, e)
    if i == j:
        _fail(400, missing, j)
    a.kind = PV_TOKEN
    a.vs = <int>j
    a.ve = <int>i
    return i


cdef object _param_value(cbuf p, Py_ssize_t e, ParamSpan* a):
    cdef Py_ssize_t after
    if a.kind == PV_TOKEN:
        return _word(p, a.vs, a.ve)
    if a.kind == PV_ASCII:
        return _ascii_copy(p, a.vs, a.ve)
    if a.kind == PV_TEXT:
        return _text(p, a.vs, a.ve)
    if a.kind == PV_ESCAPED:
        return _quoted(p, a.vs, e, &after)
    return None


cdef dict _params_dict(cbuf p, Py_ssize_t e, ParamSpan* a, int n):
    """The dict of the parameters noted in a[:n]: lower-cased names, in first-seen order,
    each with its last value."""
    cdef dict params = {}
    cdef int k
    for k in range(n):
        name = <object>a[k].name if a[k].name != NULL else _lower_text(p, a[k].ns, a[k].ne)
        params[name] = _param_value(p, e, &a[k])
    return params


cdef dict _header_params(cbuf p, Py_ssize_t i, Py_ssize_t e, Py_ssize_t* stop):
    cdef ParamSpans sp
    cdef ParamSpan* a
    cdef Py_ssize_t ns, j
    _spans_init(&sp)
    try:
        while True:
            i = _skip_lws(p, i, e)
            if i >= e or p[i] != 59:
                stop[0] = i
                return _params_dict(p, e, sp.a, sp.n)
            i = _skip_lws(p, i + 1, e)
            ns = i
            i = _token_end(p, i, e)
            if i == ns:
                _fail(400, "Empty parameter", ns)
            a = _spans_add(&sp, p, ns, i)
            j = _skip_lws(p, i, e)
            if j < e and p[j] == 61:
                i = _value_span(p, _skip_lws(p, j + 1, e), e, a, "Empty parameter value")
    finally:
        _spans_free(&sp)


# --- header parameters of addresses and Via -----------------------------------------------
# A check pass notes where the value of each name the object exposes last appears (the
# dict keeps the last value of a repeated name); the dict itself is built when read.

cdef PV NO_PARAMS[N_PKEYS]  # every name absent: _check_params starts from a copy
for _k in range(N_PKEYS):
    NO_PARAMS[_k].s = -2
    NO_PARAMS[_k].e = 0


cdef inline bint _ieq(cbuf p, Py_ssize_t s, const char* lit, Py_ssize_t n) noexcept:
    return sip_ieq(p + s, <const unsigned char*>lit, n)


cdef int _pkey(cbuf p, Py_ssize_t s, Py_ssize_t e) noexcept:
    """Which of the exposed parameter names p[s:e] is (ASCII case folded), or -1."""
    cdef Py_ssize_t n = e - s
    if n == 1:
        return P_Q if _lower(p[s]) == 113 else -1
    if n == 3:
        if _ieq(p, s, b"tag", 3):
            return P_TAG
        if _ieq(p, s, b"ttl", 3):
            return P_TTL
    elif n == 5:
        if _ieq(p, s, b"rport", 5):
            return P_RPORT
        if _ieq(p, s, b"maddr", 5):
            return P_MADDR
    elif n == 6:
        if _ieq(p, s, b"branch", 6):
            return P_BRANCH
        if _ieq(p, s, b"reg-id", 6):
            return P_REG_ID
    elif n == 7:
        if _ieq(p, s, b"expires", 7):
            return P_EXPIRES
    elif n == 8:
        if _ieq(p, s, b"received", 8):
            return P_RECEIVED
    elif n == 13:
        if _ieq(p, s, b"+sip.instance", 13):
            return P_INSTANCE
    return -1


cdef Py_ssize_t _check_params(cbuf p, Py_ssize_t i, Py_ssize_t e, PV* kv) except -1:
    """_header_params without the dict: where they stop; ``kv`` gets the exposed values."""
    cdef Py_ssize_t ns, ne, j, vs, ve
    cdef int key
    memcpy(kv, NO_PARAMS, sizeof(NO_PARAMS))
    while True:
        i = _skip_lws(p, i, e)
        if i >= e or p[i] != 59:
            return i
        i = _skip_lws(p, i + 1, e)
        ns = i
        i = _token_end(p, i, e)
        if i == ns:
            _fail(400, "Empty parameter", ns)
        ne = i
        vs = -1
        ve = 0
        j = _skip_lws(p, i, e)
        if j < e and p[j] == 61:
            j = _skip_lws(p, j + 1, e)
            vs = j
            if j < e and p[j] == 34:
                i = ve = _quoted_end(p, j, e)
            else:
                j = _pvalue_end(p, j, e)
                if j == vs:
                    _fail(400, "Empty parameter value", vs)
                i = ve = j
        key = _pkey(p, ns, ne)
        if key >= 0:
            kv[key].s = <int>vs
            kv[key].e = <int>ve


cdef object _pvalue(cbuf p, PV* v):
    """The value _header_params stores for a name noted by _check_params (an equal str:
    the values read this way, tags, branches, addresses, are not worth an interned-word
    lookup)."""
    cdef Py_ssize_t after
    if v.s < 0:
        return None
    if p[v.s] == 34:
        return _quoted(p, v.s, v.e, &after)
    return _ascii(p, v.s, v.e)


cdef long long _uint_text(str value, long long limit, str reason, Py_ssize_t offset) except -1:
    cdef long long n = 0
    cdef Py_ssize_t k
    cdef Py_UCS4 ch
    if not value:
        _fail(400, reason, offset)
    for k in range(len(value)):
        ch = value[k]
        if ch < 48 or ch > 57:
            _fail(400, reason, offset)
        n = n * 10 + (<long long>ch - 48)
        if n > limit:
            _fail(400, reason, offset)
    return n


cdef object _qvalue(str value, Py_ssize_t offset):
    cdef Py_ssize_t n = len(value), k
    cdef long thousandths, scale = 100
    cdef Py_UCS4 ch
    if n < 1 or n > 5 or (value[0] != "0" and value[0] != "1") or (n > 1 and value[1] != "."):
        _fail(400, "Invalid q value", offset)
    thousandths = (<long><Py_UCS4>value[0] - 48) * 1000
    for k in range(2, n):
        ch = value[k]
        if ch < 48 or ch > 57:
            _fail(400, "Invalid q value", offset)
        thousandths += (<long>ch - 48) * scale
        scale //= 10
    if thousandths > 1000:
        _fail(400, "Invalid q value", offset)
    return thousandths / 1000.0


cdef long long _uint_param(cbuf p, PV* v, long long limit, str reason,
                           Py_ssize_t offset) except -1:
    """_uint_text(_pvalue(p, v), ...) without making the str when the value is unquoted
    (a byte that is not an ASCII digit fails here as its character fails there)."""
    cdef long long n = 0
    cdef Py_ssize_t k
    if p[v.s] == 34:
        return _uint_text(_pvalue(p, v), limit, reason, offset)
    for k in range(v.s, v.e):  # not empty: _check_params refuses an empty value
        if not (CLS[p[k]] & C_DIGIT):
            _fail(400, reason, offset)
        n = n * 10 + (p[k] - 48)
        if n > limit:
            _fail(400, reason, offset)
    return n


cdef object _qvalue_param(cbuf p, PV* v, Py_ssize_t offset):
    """_qvalue(_pvalue(p, v), offset) without the str when the value is unquoted."""
    cdef Py_ssize_t k
    cdef long thousandths, scale = 100
    if p[v.s] == 34:
        return _qvalue(_pvalue(p, v), offset)
    if (v.e - v.s > 5 or (p[v.s] != 48 and p[v.s] != 49)
            or (v.e - v.s > 1 and p[v.s + 1] != 46)):
        _fail(400, "Invalid q value", offset)
    thousandths = (p[v.s] - 48) * 1000
    for k in range(v.s + 2, v.e):
        if not (CLS[p[k]] & C_DIGIT):
            _fail(400, "Invalid q value", offset)
        thousandths += (p[k] - 48) * scale
        scale //= 10
    if thousandths > 1000:
        _fail(400, "Invalid q value", offset)
    return thousandths / 1000.0
