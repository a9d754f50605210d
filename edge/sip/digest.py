"""SIP digest authentication (RFC 3261 22, RFC 7616, RFC 8760): challenges and checks.

Nonces are stateless: ``{issued ms}{random}{hmac}`` in hex, an HMAC-SHA-256 over the time it
was issued, 32 random bits and the realm with a secret this process draws at start. Any nonce this process issued
verifies without a lookup; one from another worker or from before a restart fails the
HMAC and gets a new challenge with ``stale=true`` (RFC 7616 3.3: the phone retries with
the new nonce and the credentials it has, no prompt), as does one older than
``lifetime``. A phone's UDP flow and TCP connection stay on one worker (SO_REUSEPORT
hashes the source), so in practice that happens once per restart.

Replay: qop ``auth`` is required, so every response carries a nonce count. The table of
counts seen per nonce lives here; a count not above the last one is a replay, unless it
comes with the same Via branch (a retransmission of the same request, RFC 3261 17.2.2);
HTTP passes no branch, so there a count not above the last is always a replay.
The table is bounded (``max_nonces``): when full, the oldest entries go, and every nonce
issued before the newest evicted one counts as stale from then on, so an eviction never
reopens a replay.

Both algorithms are offered, one ``WWW-Authenticate`` each. MD5 is listed first by
default because a phone that reads only the first challenge and knows only MD5 (much of
the installed base, and sipp 3.6) fails on SHA-256; ``prefer="SHA-256"`` reverses it
(RFC 8760 2.4 lists by preference).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

ALGORITHMS = {"MD5": "md5", "SHA-256": "sha256"}
DEFAULT_LIFETIME = 300.0
DEFAULT_MAX_NONCES = 500_000
_MAC_BYTES = 12
_ISSUED = 20  # hex digits before the HMAC: 12 of milliseconds, 8 random


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a set of credentials came to: ``ok``, or ``stale`` (a new challenge with
    stale=true, no failure), or neither (a failure: wrong response or replay)."""

    ok: bool
    stale: bool = False
    reason: str = ""


OK = Verdict(True)
STALE = Verdict(False, stale=True, reason="stale nonce")


class Digest:
    def __init__(
        self,
        lifetime: float = DEFAULT_LIFETIME,
        prefer: str = "MD5",
        max_nonces: int = DEFAULT_MAX_NONCES,
        clock: Callable[[], float] = time.time,
        secret: bytes | None = None,
    ) -> None:
        if prefer not in ALGORITHMS:
            raise ValueError(f"prefer is one of {', '.join(ALGORITHMS)}")
        self.lifetime = lifetime
        self.order = (prefer, *(name for name in ALGORITHMS if name != prefer))
        self.max_nonces = max_nonces
        self._clock = clock
        self._secret = secret or secrets.token_bytes(32)
        self._opaque = secrets.token_hex(8)
        self._seen: OrderedDict[str, tuple[int, str]] = OrderedDict()  # nonce -> (nc, branch)
        self._evicted_before = 0  # nonces issued before this (hex seconds) are stale

    # -- challenges -------------------------------------------------------------------------

    def nonce(self, realm: str) -> str:
        # Milliseconds and 32 random bits: two challenges never share a nonce (nor its nc).
        issued = f"{int(self._clock() * 1000):012x}{secrets.token_hex(4)}"
        return issued + self._mac(issued, realm)

    def _mac(self, issued: str, realm: str) -> str:
        data = f"{issued}:{realm.lower()}".encode()
        return hmac.new(self._secret, data, hashlib.sha256).hexdigest()[: 2 * _MAC_BYTES]

    def challenges(self, realm: str, stale: bool = False) -> list[tuple[str, str]]:
        """The ``WWW-Authenticate`` headers of a 401, one per algorithm, one nonce."""
        nonce = self.nonce(realm)
        tail = ", stale=true" if stale else ""
        quoted = realm.replace("\\", "\\\\").replace('"', '\\"')
        head = f'Digest realm="{quoted}", nonce="{nonce}", opaque="{self._opaque}"'
        return [
            ("WWW-Authenticate", f'{head}, algorithm={name}, qop="auth"{tail}')
            for name in self.order
        ]

    # -- checks -----------------------------------------------------------------------------

    def fresh(self, nonce: str, realm: str) -> bool:
        """Issued here, for this realm, within the lifetime, and not evicted."""
        if len(nonce) != _ISSUED + 2 * _MAC_BYTES:
            return False
        issued = nonce[:_ISSUED]
        if not hmac.compare_digest(nonce[_ISSUED:], self._mac(issued, realm)):
            return False
        try:
            at_ms = int(issued[:12], 16)
        except ValueError:
            return False
        return (
            at_ms >= self._evicted_before and self._clock() * 1000 - at_ms <= self.lifetime * 1000
        )

    def check(
        self, params: dict[str, str | None], method: str, ha1: str, branch: str | None
    ) -> Verdict:
        """Check one ``Authorization``'s parameters against ``ha1`` (of its algorithm).

        The caller has looked the account up and picked ``ha1`` for
        :func:`algorithm_of`; for an unknown user it passes a made-up HA1 of the same
        length, so every path costs the same hashing. ``branch`` None: the transport has
        no retransmission of the same request (HTTP), so a repeated count is always a
        replay."""
        nonce = params.get("nonce") or ""
        realm = params.get("realm") or ""
        if not self.fresh(nonce, realm):
            return STALE
        algorithm = ALGORITHMS.get(algorithm_of(params) or "")
        qop, nc, cnonce = params.get("qop"), params.get("nc") or "", params.get("cnonce")
        response, uri = params.get("response") or "", params.get("uri") or ""
        if algorithm is None or qop != "auth" or cnonce is None or len(nc) != 8:
            return Verdict(False, reason="credentials without qop=auth, nc or cnonce")
        try:
            count = int(nc, 16)
        except ValueError:
            return Verdict(False, reason="nc is not hexadecimal")
        expected = response_of(algorithm, ha1, nonce, method, uri, nc, cnonce)
        if not hmac.compare_digest(expected, response.lower()):
            return Verdict(False, reason="wrong digest response")
        last = self._seen.get(nonce)
        if last is not None and count <= last[0]:
            retransmitted = branch is not None and (count, branch) == last
            if not retransmitted:
                return Verdict(False, reason="replayed nonce count")
        self._remember(nonce, count, branch or "")
        return OK

    def _remember(self, nonce: str, count: int, branch: str) -> None:
        seen = self._seen
        seen[nonce] = (count, branch)
        seen.move_to_end(nonce)
        now_ms = int(self._clock() * 1000)
        while seen:
            oldest = next(iter(seen))
            issued = int(oldest[:12], 16)
            if len(seen) <= self.max_nonces and now_ms - issued <= self.lifetime * 1000:
                break
            del seen[oldest]
            if len(seen) >= self.max_nonces:  # evicted while still fresh: close the door
                self._evicted_before = max(self._evicted_before, issued + 1)


def algorithm_of(params: dict[str, str | None]) -> str | None:
    """The credentials' algorithm in our spelling (absent means MD5, RFC 7616 3.4)."""
    name = (params.get("algorithm") or "MD5").upper()
    return name if name in ALGORITHMS else None


def response_of(
    algorithm: str, ha1: str, nonce: str, method: str, uri: str,
    nc: str | None = None, cnonce: str | None = None,
) -> str:  # fmt: skip
    """The digest ``response`` (RFC 7616 3.4.1) for ``ha1``; ``algorithm`` a hashlib name.
    With ``nc`` and ``cnonce``: qop=auth; without: the RFC 2069 form."""
    ha2 = _hash(algorithm, f"{method}:{uri}")
    if nc is None or cnonce is None:
        return _hash(algorithm, f"{ha1}:{nonce}:{ha2}")
    return _hash(algorithm, f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")


def _hash(algorithm: str, text: str) -> str:
    return hashlib.new(algorithm, text.encode("utf-8", "surrogateescape")).hexdigest()
