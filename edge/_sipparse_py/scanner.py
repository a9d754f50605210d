"""Byte-level scanning shared by every topic: character classes, text decoding, numbers,
quoted strings, list elements, tokens and header-name ids (``_sipparse_scanner.pxi``).

Part of the pure-Python twin of ``edge._sipparse``; mirrors the compiled topic file
named above step for step.
"""

from __future__ import annotations

import re
from typing import Any

from edge.sipdefs import (
    HEADER_IDS,
    SipParseError,
)

# Character classes (RFC 3261 section 25.1).
_ALPHA = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


_DIGIT = frozenset(b"0123456789")


_TOKEN = _ALPHA | _DIGIT | frozenset(b"-.!%*_+`'~")


_SCHEME = _ALPHA | _DIGIT | frozenset(b"+-.")


_HOST = _ALPHA | _DIGIT | frozenset(b"-._")


_IPV6 = frozenset(b"0123456789abcdefABCDEF:.")


_PVALUE = _TOKEN | frozenset(b":[]")  # gen-value: token / host (IPv6 references included)


_LWS = frozenset(b" \t\r\n")


_HEX = frozenset(b"0123456789abcdefABCDEF")


_URI_BAD = frozenset(range(33)) | frozenset(b'<>"\x7f')


_CSEQ_MAX = 2**31 - 1  # RFC 3261 8.1.1.5: the sequence number MUST be less than 2**31


_DELTA_MAX = 2**32 - 1  # delta-seconds


_FOLD = re.compile(rb"[ \t]*(?:\r\n[ \t]+)+")  # one run of LWS holding line breaks


_UNSET: Any = object()


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def _skip_lws(buf: bytes, i: int, e: int) -> int:
    while i < e and buf[i] in _LWS:
        i += 1
    return i


def _rtrim(buf: bytes, s: int, e: int) -> int:
    while e > s and buf[e - 1] in _LWS:
        e -= 1
    return e


def _unfold(buf: bytes, s: int, e: int) -> bytes:
    """Value bytes with each run of LWS that holds a line break replaced by one space."""
    raw = buf[s:e]
    return _FOLD.sub(b" ", raw) if b"\r" in raw else raw


def _pct_decode(buf: bytes, s: int, e: int) -> bytes:
    """Undo %XX escapes; a '%' not followed by two hex digits stays as it is."""
    raw = buf[s:e]
    if b"%" not in raw:
        return raw
    out = bytearray()
    i = s
    while i < e:
        c = buf[i]
        if c == 37 and i + 2 < e and buf[i + 1] in _HEX and buf[i + 2] in _HEX:
            out.append(int(buf[i + 1 : i + 3], 16))
            i += 3
        else:
            out.append(c)
            i += 1
    return bytes(out)


def _uint(buf: bytes, s: int, e: int, limit: int, reason: str) -> int:
    """Digits only, value at most ``limit``; anything else raises 400 ``reason`` at ``s``."""
    if s >= e:
        raise SipParseError(400, reason, s)
    n = 0
    for i in range(s, e):
        c = buf[i]
        if c < 48 or c > 57:
            raise SipParseError(400, reason, s)
        n = n * 10 + (c - 48)
        if n > limit:
            raise SipParseError(400, reason, s)
    return n


def _quoted(buf: bytes, i: int, e: int) -> tuple[str, int]:
    """Quoted string starting at ``buf[i] == '"'``: (unescaped text, index after it)."""
    j = i + 1
    out: bytearray | None = None
    start = j
    while j < e:
        c = buf[j]
        if c == 34:
            raw = buf[start:j] if out is None else bytes(out + buf[start:j])
            return _text(raw), j + 1
        if c == 92 and j + 1 < e:
            if out is None:
                out = bytearray()
            out += buf[start:j]
            out.append(buf[j + 1])
            j += 2
            start = j
            continue
        j += 1
    raise SipParseError(400, "Unterminated quoted string", i)


def _split(buf: bytes, s: int, e: int) -> list[tuple[int, int]]:
    """Comma-separated elements of [s, e), not splitting inside quotes or <>; trimmed."""
    out = []
    start = s
    quoted = False
    depth = 0
    i = s
    while i < e:
        c = buf[i]
        if quoted:
            if c == 92:
                i += 1
            elif c == 34:
                quoted = False
        elif c == 34:
            quoted = True
        elif c == 60:
            depth += 1
        elif c == 62:
            if depth:
                depth -= 1
        elif c == 44 and depth == 0:
            ts = _skip_lws(buf, start, i)
            out.append((ts, _rtrim(buf, ts, i)))
            start = i + 1
        i += 1
    ts = _skip_lws(buf, start, e)
    out.append((ts, _rtrim(buf, ts, e)))
    return out


def _token_end(buf: bytes, i: int, e: int) -> int:
    while i < e and buf[i] in _TOKEN:
        i += 1
    return i


def _header_id(name: bytes) -> int:
    return HEADER_IDS.get(name.lower(), 0)
