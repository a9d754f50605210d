"""A tenant's delivery policy on the edge: the first stage, the second, the User-Agent MAC.

The rules come from the publisher (provedge/formats/delivery.py), one LMDB read per
per-MAC fetch; a device of a plain ``keyed_url`` tenant has none and costs only that read.

- **First stage**: an unauthenticated GET of the device's first-stage file name gets the
  published first stage (no secret but the fetch credentials) once per provisioning
  cycle. *Once* is a claim: the empty file ``DATA/edge-state/first-stage/<mac>/<cycle>``
  created with ``O_EXCL``, so exactly one request on any worker of the host wins it, as
  reboot targets are claimed (edge/sip/reboot.py). A counter reset draws a new cycle,
  and the next claim is a new file (the winner removes the MAC's older ones). Every later
  unauthenticated fetch gets the ordinary 404.
- **Second stage**: ``/p/<tenant key>/auth/<file>`` requires the device's credentials:
  HTTP Digest (RFC 7616, MD5 and SHA-256, stateless HMAC nonces of edge/sip/digest.py),
  or Basic only when the request came over TLS (``secure``). Nonces are signed with a
  key every worker of the host shares (``DATA/edge-state/http-digest.key``), so a phone
  whose retry lands on another worker is not sent round again.
- **User-Agent MAC**: with ``ua_mac_match`` a per-MAC file is served only when a MAC in
  the User-Agent is the MAC requested; control sets the flag only for vendors whose
  User-Agent carries one (control/publish/firststage.py).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.request import parse_http_list, parse_keqv_list

from edge.http.reads import Reads
from edge.sip import digest
from provedge.formats import delivery, edgestate

CLAIMS_DIR = "first-stage"
KEY_NAME = "http-digest.key"
_SECOND = f"/{delivery.AUTH_DIR}"
_MAX_REMEMBERED = 1_000_000  # claims this worker knows are taken (known MACs only)
# A MAC as User-Agents write it: bare, or with one separator, colons or dashes, throughout
# (vendors.md table). Overlapping (a lookahead), so ``MAC:00-...`` is not eaten as ``ac:``.
_HEX = rb"[0-9a-f]{2}"
_UA_MAC = re.compile(
    rb"(?=(?<![0-9a-f])("
    + _HEX
    + rb")([:\-]?)("
    + _HEX
    + rb")"
    + rb"".join(rb"\2(" + _HEX + rb")" for _ in range(4))
    + rb"(?![0-9a-f]))"
)
_DUMMY_HA1 = {"MD5": "0" * 32, "SHA-256": "0" * 64}  # hex lengths of each algorithm's HA1


@dataclass(frozen=True, slots=True)
class Verdict:
    """``ok``: the credentials are the device's; else ``failed`` (count it) or a challenge."""

    ok: bool = False
    failed: bool = False
    stale: bool = False


OK = Verdict(ok=True)
CHALLENGE = Verdict()
STALE = Verdict(stale=True)
FAILED = Verdict(failed=True)


def is_second_stage(path: str) -> bool:
    """``/p/<key>/auth/<file>``: cheap enough for every request."""
    return _SECOND in path


def first_path(path: str) -> str:
    """The second stage's path with ``auth/`` taken out: where its blob is published."""
    return path.replace(_SECOND, "/", 1)


def ua_matches(agent: bytes | None, mac: str) -> bool:
    if not agent:
        return False
    wanted = mac.encode()
    for groups in _UA_MAC.findall(agent.lower()):
        if groups[0] + b"".join(groups[2:]) == wanted:
            return True
    return False


def shared_key(data_dir: str | Path) -> bytes:
    """The host's digest key: made once (atomically, by whichever worker comes first)."""
    folder = edgestate.env_path(data_dir)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / KEY_NAME
    if not path.exists():
        draft = folder / f".{KEY_NAME}.{os.getpid()}"
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, secrets.token_bytes(32))
        finally:
            os.close(fd)
        try:
            os.link(draft, path)  # fails if another worker linked its key first
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_bytes()


class Delivery:
    def __init__(
        self, data_dir: str | Path, reads: Reads, auth: digest.Digest | None = None,
    ) -> None:  # fmt: skip
        self.data_dir = data_dir
        self._reads = reads
        self._db: Any = None
        self.digest = auth or digest.Digest(secret=shared_key(data_dir))
        self._claims = edgestate.env_path(data_dir) / CLAIMS_DIR
        self._taken: set[str] = set()

    def rule(self, mac: str) -> delivery.Rule | None:
        if self._db is None:
            self._db = self._reads.open_db(delivery.DELIVERY_DB)
            if self._db is None:
                return None  # nothing published with a delivery rule yet
        txn = self._reads.txn()
        raw = txn.get(mac.encode(), db=self._db)
        return None if raw is None else delivery.decode(raw)

    def claim(self, mac: str, cycle: int) -> bool:
        """True for the one request of this cycle that gets the first stage."""
        name = f"{mac}/{cycle}"
        if name in self._taken:
            return False
        folder = self._claims / mac
        try:
            fd = os.open(folder / str(cycle), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            if len(self._taken) >= _MAX_REMEMBERED:
                self._taken.clear()
            self._taken.add(name)
            return False
        except FileNotFoundError:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            return self.claim(mac, cycle)
        os.close(fd)
        self._taken.add(name)
        for old in os.scandir(folder):  # earlier cycles' claims: once per cycle, a few
            if old.name != str(cycle):
                os.unlink(old.path)
        return True

    def challenge(self, stale: bool = False) -> list[tuple[bytes, bytes]]:
        return [
            (b"www-authenticate", value.encode())
            for _, value in self.digest.challenges(delivery.REALM, stale)
        ]

    def check(
        self, authorization: bytes | None, method: str, path: str, mac: str | None,
        rule: delivery.Rule | None, secure: bool,
    ) -> Verdict:  # fmt: skip
        """The credentials of a second-stage request for ``mac``'s file. ``rule`` None (no
        such device, or one without credentials): checked against a made-up HA1 all the
        same, so an unknown MAC costs what a known one does and always fails."""
        if not authorization:
            return CHALLENGE
        scheme, _, rest = authorization.decode("latin-1").partition(" ")
        scheme = scheme.lower()
        if scheme == "basic":
            # Only over TLS: over plain HTTP the password would be on the wire. Refused
            # unchecked (no oracle), with the Digest challenge.
            return _basic(rest, mac, rule) if secure else CHALLENGE
        if scheme != "digest":
            return CHALLENGE
        try:
            params: dict[str, str | None] = dict(parse_keqv_list(parse_http_list(rest)))
        except ValueError:
            return FAILED
        algorithm = digest.algorithm_of(params)
        if algorithm is None:
            return FAILED
        known = rule is not None and rule.credentials and params.get("username") == mac
        if rule is not None and known:
            ha1 = rule.ha1_md5 if algorithm == "MD5" else rule.ha1_sha256
        else:
            ha1 = _DUMMY_HA1[algorithm]
        if (params.get("uri") or "").partition("?")[0] != path:
            known = False  # a response computed for another file
        # No branch: HTTP never retransmits a request as SIP over UDP does, so a repeated
        # (nonce, nc) is a replay. The counts are this worker's own (docs/delivery.md).
        verdict = self.digest.check(params, method, ha1, None)
        if verdict.stale:
            return STALE
        return OK if verdict.ok and known else FAILED


def _basic(encoded: str, mac: str | None, rule: delivery.Rule | None) -> Verdict:
    try:
        user, sep, password = (
            base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
        )
    except (binascii.Error, UnicodeDecodeError):
        return FAILED
    expected = rule.basic if rule is not None and rule.credentials else bytes(32)
    given = delivery.basic_verifier(user, password)
    ok = hmac.compare_digest(given, expected) and sep == ":" and user == mac
    return OK if ok else FAILED
