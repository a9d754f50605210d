"""Credentials and challenges: a scheme and comma-separated auth-params
(``_sipparse_credentials.pxi``).

Part of the pure-Python twin of ``edge._sipparse``; mirrors the compiled topic file
named above step for step.
"""

from __future__ import annotations

from edge._sipparse_py.params import _value
from edge._sipparse_py.scanner import _skip_lws, _text, _token_end
from edge.sipdefs import SipParseError


class Auth:
    """Credentials or a challenge: ``Digest username="...", realm="...", ...``."""

    __slots__ = ("params", "scheme")

    scheme: str
    params: dict[str, str | None]

    def __repr__(self) -> str:
        return f"Auth({self.scheme!r}, {self.params!r})"


def _parse_auth(buf: bytes, s: int, e: int) -> Auth:
    se = _token_end(buf, s, e)
    if se == s:
        raise SipParseError(400, "Malformed credentials", s)
    params: dict[str, str | None] = {}
    i = _skip_lws(buf, se, e)
    if i < e and i == se:
        raise SipParseError(400, "Malformed credentials", i)
    while i < e:
        ns = i
        i = ne = _token_end(buf, i, e)
        if i == ns:
            raise SipParseError(400, "Malformed credentials", i)
        j = _skip_lws(buf, i, e)
        if j >= e or buf[j] != 61:
            raise SipParseError(400, "Malformed credentials", j)
        value, i = _value(buf, _skip_lws(buf, j + 1, e), e, "Malformed credentials")
        params[buf[ns:ne].lower().decode("ascii")] = value
        i = _skip_lws(buf, i, e)
        if i < e:
            if buf[i] != 44:
                raise SipParseError(400, "Malformed credentials", i)
            i = _skip_lws(buf, i + 1, e)
    auth = Auth()
    auth.scheme = _text(buf[s:se])
    auth.params = params
    return auth
