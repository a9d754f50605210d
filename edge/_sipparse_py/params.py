"""``;name=value`` header parameters (Event, Via, addresses) and their numeric values
(``_sipparse_params.pxi``).

Part of the pure-Python twin of ``edge._sipparse``; mirrors the compiled topic file
named above step for step.
"""

from __future__ import annotations

from edge._sipparse_py.scanner import _PVALUE, _quoted, _skip_lws, _text, _token_end
from edge.sipdefs import SipParseError


def _value(buf: bytes, j: int, e: int, missing: str) -> tuple[str, int]:
    """The value at ``j``, a quoted string or a token, and the index past it; ``missing``:
    the reason of the error when there is neither."""
    if j < e and buf[j] == 34:
        return _quoted(buf, j, e)
    i = j
    while i < e and buf[i] in _PVALUE:
        i += 1
    if i == j:
        raise SipParseError(400, missing, j)
    return _text(buf[j:i]), i


def _header_params(buf: bytes, i: int, e: int) -> tuple[dict[str, str | None], int]:
    """``*( LWS ";" LWS name [ LWS "=" LWS value ] )``: (params, index where they stop)."""
    params: dict[str, str | None] = {}
    while True:
        i = _skip_lws(buf, i, e)
        if i >= e or buf[i] != 59:
            return params, i
        i = _skip_lws(buf, i + 1, e)
        ns = i
        i = _token_end(buf, i, e)
        if i == ns:
            raise SipParseError(400, "Empty parameter", ns)
        name = buf[ns:i].lower().decode("ascii")
        value: str | None = None
        j = _skip_lws(buf, i, e)
        if j < e and buf[j] == 61:
            value, i = _value(buf, _skip_lws(buf, j + 1, e), e, "Empty parameter value")
        params[name] = value


def _uint_text(value: str, limit: int, reason: str, offset: int) -> int:
    """A parameter value as a number: digits only, at most ``limit``."""
    if not value:
        raise SipParseError(400, reason, offset)
    n = 0
    for ch in value:
        c = ord(ch)
        if c < 48 or c > 57:
            raise SipParseError(400, reason, offset)
        n = n * 10 + (c - 48)
        if n > limit:
            raise SipParseError(400, reason, offset)
    return n


def _qvalue(value: str, offset: int) -> float:
    """qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), in thousandths."""
    n = len(value)
    if n < 1 or n > 5 or value[0] not in "01" or (n > 1 and value[1] != "."):
        raise SipParseError(400, "Invalid q value", offset)
    thousandths = (ord(value[0]) - 48) * 1000
    scale = 100
    for ch in value[2:]:
        if ch < "0" or ch > "9":
            raise SipParseError(400, "Invalid q value", offset)
        thousandths += (ord(ch) - 48) * scale
        scale //= 10
    if thousandths > 1000:
        raise SipParseError(400, "Invalid q value", offset)
    return thousandths / 1000
