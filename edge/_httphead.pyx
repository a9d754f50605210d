# cython: language_level=3
"""The edge's fast path for a phone's request head: ``GET``/``HEAD /p/...``, in place.

Compiled twin of edge/_httphead_py.py; both pass tests/test_httphead.py. The rules,
and why anything else is declined, are in edge/httphead.py.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.unicode cimport PyUnicode_DecodeASCII
from libc.string cimport memcmp

cdef unsigned char TOKEN[256]  # tchar, RFC 9110 5.6.2
cdef unsigned char FIELD[256]  # a field value's bytes: visible ASCII, SP and HTAB
cdef unsigned char TARGET[256]  # a request target's bytes: visible ASCII but '#'
cdef unsigned char LOWER[256]

cdef int _i
for _i in range(256):
    LOWER[_i] = _i + 32 if 65 <= _i <= 90 else _i
    TARGET[_i] = 0x21 <= _i <= 0x7E and _i != 0x23
    FIELD[_i] = 0x20 <= _i <= 0x7E or _i == 0x09
    TOKEN[_i] = (48 <= _i <= 57) or (65 <= _i <= 90) or (97 <= _i <= 122) or (
        _i in b"!#$%&'*+-.^_`|~"
    )

# What a header's name is to the fast path (by its lowercased bytes).
cdef enum Name:
    OTHER
    IF_NONE_MATCH
    USER_AGENT
    AUTHORIZATION
    CONNECTION
    DECLINED  # a body, an upgrade, an expectation: httptools' to handle


cdef bint _is(const unsigned char* p, Py_ssize_t n, const char* lower, Py_ssize_t size):
    cdef Py_ssize_t i
    if n != size:
        return False
    for i in range(n):
        if LOWER[p[i]] != <unsigned char>lower[i]:
            return False
    return True


cdef Name _name(const unsigned char* p, Py_ssize_t n):
    if _is(p, n, b"if-none-match", 13):
        return IF_NONE_MATCH
    if _is(p, n, b"user-agent", 10):
        return USER_AGENT
    if _is(p, n, b"authorization", 13):
        return AUTHORIZATION
    if _is(p, n, b"connection", 10):
        return CONNECTION
    if (_is(p, n, b"content-length", 14) or _is(p, n, b"transfer-encoding", 17)
            or _is(p, n, b"upgrade", 7) or _is(p, n, b"expect", 6)):
        return DECLINED
    return OTHER


def parse_head(bytes data, Py_ssize_t start, Py_ssize_t limit):
    """The request head at ``data[start:]``, or None when the fast path declines it.

    Returns (method, path, keep_alive, http_1_0, if_none_match, user_agent,
    authorization, end): ``path`` the target up to ``?``, ``end`` where the next request
    starts. ``limit``: the most bytes a head may have."""
    cdef const unsigned char* buf = <const unsigned char*>PyBytes_AS_STRING(data)
    cdef Py_ssize_t size = PyBytes_GET_SIZE(data)
    cdef Py_ssize_t stop = size if size - start <= limit else start + limit
    cdef Py_ssize_t i = start, target, path_end, line, colon, value, value_end
    cdef Name name
    cdef int connection = 0  # 0 none, 1 close, 2 keep-alive
    cdef bint http_1_0
    if start < 0 or start >= size:
        return None
    # The request line: "GET " or "HEAD ", "/p/...", " HTTP/1.x\r\n".
    if stop - i >= 4 and memcmp(buf + i, b"GET ", 4) == 0:
        method = "GET"
        i += 4
    elif stop - i >= 5 and memcmp(buf + i, b"HEAD ", 5) == 0:
        method = "HEAD"
        i += 5
    else:
        return None
    target = i
    path_end = -1
    if stop - i < 3 or memcmp(buf + i, b"/p/", 3) != 0:
        return None
    while i < stop and TARGET[buf[i]]:
        if buf[i] == b"?" and path_end < 0:
            path_end = i
        i += 1
    if path_end < 0:
        path_end = i
    if stop - i < 11 or memcmp(buf + i, b" HTTP/1.", 8) != 0:
        return None
    if buf[i + 8] == b"1":
        http_1_0 = False
    elif buf[i + 8] == b"0":
        http_1_0 = True
    else:
        return None
    if buf[i + 9] != b"\r" or buf[i + 10] != b"\n":
        return None
    path = PyUnicode_DecodeASCII(<const char*>buf + target, path_end - target, NULL)
    i += 11
    if_none_match = agent = authorization = None
    # Header lines until the empty one: "name:" OWS value OWS CRLF.
    while True:
        if stop - i < 2:
            return None  # incomplete, or over the limit
        if buf[i] == b"\r":
            if buf[i + 1] != b"\n":
                return None
            i += 2
            break
        line = i
        while i < stop and TOKEN[buf[i]]:
            i += 1
        if i == line or i >= stop or buf[i] != b":":
            return None  # no name, whitespace before the colon, a folded line
        colon = i
        i += 1
        while i < stop and (buf[i] == b" " or buf[i] == b"\t"):
            i += 1
        value = i
        while i < stop and FIELD[buf[i]]:
            i += 1
        if stop - i < 2 or buf[i] != b"\r" or buf[i + 1] != b"\n":
            return None
        value_end = i
        while value_end > value and (buf[value_end - 1] == b" " or buf[value_end - 1] == b"\t"):
            value_end -= 1
        i += 2
        name = _name(buf + line, colon - line)
        if name == OTHER:
            continue
        if name == DECLINED:
            return None
        if name == CONNECTION:
            if connection:
                return None  # a second Connection header
            if _is(buf + value, value_end - value, b"close", 5):
                connection = 1
            elif _is(buf + value, value_end - value, b"keep-alive", 10):
                connection = 2
            else:
                return None
            continue
        field = data[value:value_end]
        if name == IF_NONE_MATCH:
            if_none_match = field
        elif name == USER_AGENT:
            agent = field
        else:
            authorization = field
    keep_alive = connection == 2 if http_1_0 else connection != 1
    return method, path, keep_alive, http_1_0, if_none_match, agent, authorization, i
