"""Pure-Python twin of edge/_httphead.pyx: the same heads accepted, the same results.

The rules are in edge/httphead.py; tests/test_httphead.py runs both on the same cases.
"""

from __future__ import annotations

import re

Head = tuple[str, str, bool, bool, bytes | None, bytes | None, bytes | None, int]

_LINE = re.compile(rb"(GET|HEAD) (/p/[\x21\x22\x24-\x7e]*) HTTP/1\.([01])\r\n")
_FIELD = re.compile(rb"([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*([\x20-\x7e\t]*)\r\n")
_KEPT = {b"if-none-match": 0, b"user-agent": 1, b"authorization": 2}  # places in the result
_DECLINED = {b"content-length", b"transfer-encoding", b"upgrade", b"expect"}
_CONNECTION = {b"close": 1, b"keep-alive": 2}


def parse_head(data: bytes, start: int, limit: int) -> Head | None:
    """The request head at ``data[start:]``, or None when the fast path declines it."""
    if start < 0 or start >= len(data):
        return None
    end = data.find(b"\r\n\r\n", start, start + limit)
    if end < 0:
        return None  # incomplete, or over the limit
    line = _LINE.match(data, start, end + 2)
    if line is None:
        return None
    method, target, minor = line.groups()
    kept: list[bytes | None] = [None, None, None]
    connection = 0
    at = line.end()
    while at < end + 2:
        field = _FIELD.match(data, at, end + 2)
        if field is None:
            return None
        at = field.end()
        name, value = field.group(1).lower(), field.group(2).rstrip(b" \t")
        if name in _DECLINED:
            return None
        if name == b"connection":
            if connection or value.lower() not in _CONNECTION:
                return None
            connection = _CONNECTION[value.lower()]
        elif name in _KEPT:
            kept[_KEPT[name]] = value
    http_1_0 = minor == b"0"
    keep_alive = connection == 2 if http_1_0 else connection != 1
    path = target.partition(b"?")[0].decode("ascii")
    return method.decode(), path, keep_alive, http_1_0, kept[0], kept[1], kept[2], end + 4
