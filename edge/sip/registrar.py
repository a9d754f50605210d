"""The registrar (RFC 3261 10.3): REGISTER with digest auth, bindings per account.

Order of the checks, and why:

1. The To URI names the account (user) and the domain (its realm or the tenant's SIP
   server). An account with ``auth_method`` ip whose network holds the source address is
   taken without a challenge.
2. Otherwise digest (edge/sip/digest.py): no credentials, or a stale nonce, get a 401
   challenge. Credentials are checked against the published HA1 of every password
   account that matches user and realm; an unknown user is checked against a made-up
   HA1, so it costs the same, and gets the same 401 as a wrong password: the registrar
   never tells an account that exists from one that does not. Each failure counts for
   the firewall (reasons ``unknown_user`` and ``digest``). So does the challenge of a
   REGISTER without credentials that names no account at all (``unknown_user``, the
   401 unchanged): an enumeration scan (svwar) never sends credentials, and would
   otherwise never be banned. A known user's first REGISTER never counts (every phone
   sends one). The cost, as with Asterisk's ``unidentified_request_count``: a scanner
   that brings an address to one failure short of the threshold learns from the next
   name whether it exists, at the price of that address's ban.
3. Only then ``enabled`` (403) and the access rules against the source address (403, a
   failure ``access_denied``): after the password, so neither tells a guesser anything.
4. Bindings: ``Contact: *`` with ``Expires: 0`` removes all; each Contact's expiry (its
   ``expires`` parameter, else the Expires header, else the account's maximum) is
   clamped to the account's maximum, and one below its minimum gets 423 with
   ``Min-Expires``; 0 removes that binding. A REGISTER without Contact lists them. The
   200 lists every current binding with the seconds it has left.

A successful REGISTER never counts for the firewall, so a NATed office re-registering
after a mass reboot is never banned.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from edge.sip import digest
from edge.sip.accounts import AccountDirectory, Record
from edge.sip.bindings import Bindings
from edge.sipparse import build_response, new_tag
from provedge.formats import bindings
from provedge.formats.accounts import Action, access_allows

Address = tuple[str, int]
DEFAULT_EXPIRES = 3600  # no expires anywhere in the REGISTER (RFC 3261 10.2.1.1 leaves it)
_DUMMY_HA1 = {name: hashlib.new(algo, os.urandom(16)).hexdigest()
              for name, algo in digest.ALGORITHMS.items()}  # fmt: skip


class Failures(Protocol):
    def __call__(self, host: str, reason: str, tenant: int | None = None) -> None: ...


@dataclass(frozen=True, slots=True)
class Outcome:
    """The response, and for a successful REGISTER the longest binding it left (a TCP
    flow is kept open that long, edge/sip/transport.py)."""

    response: bytes
    registered_s: int | None = None


class Registrar:
    def __init__(
        self,
        directory: AccountDirectory,
        store: Bindings,
        auth: digest.Digest | None = None,
        failure: Failures | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        """``failure``: the firewall's (EdgeApp sets it to its firewall's)."""
        self.directory = directory
        self.store = store
        self.failure: Failures = failure or _no_failure
        self.digest = auth or digest.Digest()
        self._clock = clock or store._clock
        self.pid = os.getpid()
        self.flow_prefix = f"{self.pid}:"

    def handle(
        self, msg: Any, source: Address, local: Address, transport: str, flow: str | None
    ) -> Outcome:
        to = msg.to
        user, domain = (to.uri.user, to.uri.host) if to is not None else (None, None)
        if not user or not domain:
            self.failure(source[0], "malformed")
            return Outcome(build_response(msg, 400, "To Has No User", to_tag=new_tag()))
        records = self.directory.find(domain, user)
        account = _ip_account(records, source[0])
        if account is None:
            account, answer = self._authenticate(msg, source, domain, records)
            if account is None:
                return Outcome(answer)
        tenant = int(account["tenant"])
        if not account["enabled"]:
            return Outcome(build_response(msg, 403, "Account Disabled", to_tag=new_tag()))
        rules = [(rule["action"], rule["network"]) for rule in account["access_rules"]]
        if rules and not access_allows(rules, source[0]):  # no rules: every address
            self.failure(source[0], "access_denied", tenant)
            return Outcome(build_response(msg, 403, "Forbidden", to_tag=new_tag()))
        return self._bind(msg, account, source, local, transport, flow)

    # -- authentication ---------------------------------------------------------------------

    def _authenticate(
        self, msg: Any, source: Address, domain: str, records: list[Record]
    ) -> tuple[Record | None, bytes]:
        """The account the credentials prove, or None and the response to send."""
        credentials = msg.authorization
        if credentials is None or credentials.scheme.lower() != "digest":
            if not records:  # the same 401, but an enumeration scan sends no credentials
                self.failure(source[0], "unknown_user")
            realm = str(records[0]["realm"]) if records else self.directory.realm_of(domain)
            return None, self._challenge(msg, realm)
        params = credentials.params
        realm = params.get("realm") or ""
        username = params.get("username") or ""
        if username != msg.to.uri.user:
            records = self.directory.find(domain, username)
        algorithm = digest.algorithm_of(params) or "MD5"
        field = "ha1_md5" if algorithm == "MD5" else "ha1_sha256"
        branch = _branch(msg)
        candidates = [r for r in records if r["auth_method"] == "password" and r["realm"] == realm]
        tenant = int(candidates[0]["tenant"]) if candidates else None
        verdict = digest.STALE
        tries: list[Record | None] = list(candidates) or [None]
        for record in tries:
            ha1 = _DUMMY_HA1[algorithm] if record is None else str(record[field])
            verdict = self.digest.check(params, msg.method, ha1, branch)
            if verdict.ok and record is not None:
                return record, b""
            if verdict.stale:
                break
        if verdict.stale:
            return None, self._challenge(msg, realm or self.directory.realm_of(domain), True)
        self.failure(source[0], "digest" if candidates else "unknown_user", tenant)
        retry = str(records[0]["realm"]) if records else self.directory.realm_of(domain)
        return None, self._challenge(msg, retry)

    def _challenge(self, msg: Any, realm: str, stale: bool = False) -> bytes:
        return build_response(
            msg, 401, headers=self.digest.challenges(realm, stale), to_tag=new_tag()
        )

    # -- bindings ---------------------------------------------------------------------------

    def _bind(
        self, msg: Any, account: Record, source: Address, local: Address, transport: str,
        flow: str | None,
    ) -> Outcome:  # fmt: skip
        account_id = int(account["id"])
        low, high = int(account["expires_min"]), int(account["expires_max"])
        now = self._clock()
        store = self.store
        if msg.contact_star:
            if msg.expires != 0 or len(msg.header_values("Contact")) != 1:
                return Outcome(build_response(msg, 400, "Contact * Needs Expires 0"))
            store.clear(account_id)
            return Outcome(self._ok(msg, {}, now), 0)
        current = store.current(account_id)
        header_expires = msg.expires
        changes: list[tuple[bytes, int, Any]] = []
        for contact in msg.contacts:
            expires = contact.expires if contact.expires is not None else header_expires
            expires = high if expires is None else min(expires, high)
            if 0 < expires < low:
                return Outcome(build_response(
                    msg, 423, headers=[("Min-Expires", str(low))], to_tag=new_tag()
                ))  # fmt: skip
            ident = bindings.identity(contact.uri.text, contact.instance, contact.reg_id)
            key = bindings.key(account_id, ident)
            old = current.get(key)
            cseq = msg.cseq.number
            if old is not None and old["call_id"] == msg.call_id and old["cseq"] > cseq:
                return Outcome(build_response(msg, 500, "Out Of Order", to_tag=new_tag()))
            changes.append((key, expires, contact))
        longest = 0
        for key, expires, contact in changes:
            if expires == 0:
                store.delete(account_id, key)
                current.pop(key, None)
                continue
            record = {
                "account": account_id,
                "username": account["username"],
                "tenant": int(account["tenant"]),
                "aor": f"sip:{account['username']}@{msg.to.uri.host}",
                "contact": contact.uri.text,
                "instance": contact.instance,
                "reg_id": contact.reg_id,
                "source": source[0],
                "port": source[1],
                "transport": transport,
                "flow": flow,
                # The worker whose socket the phone's datagrams reach (the kernel keeps a
                # source on one SO_REUSEPORT socket): it sends the phone's NOTIFYs.
                "worker": self.pid,
                "local": f"{local[0]}:{local[1]}",
                "user_agent": msg.header("User-Agent") or "",
                "call_id": msg.call_id,
                "cseq": msg.cseq.number,
                # A refresh keeps the time; a new Call-ID (the phone restarted) starts anew.
                "registered_at": old_at if (old_at := _since(current.get(key), msg)) else now,
                "refreshed_at": now,
                "expires_at": now + expires,
            }
            store.put(account_id, key, record)
            current[key] = record
            longest = max(longest, expires)
        return Outcome(self._ok(msg, current, now), longest if changes else None)

    @staticmethod
    def _ok(msg: Any, current: dict[bytes, Any], now: float) -> bytes:
        headers = [("Contact", _contact(record, now)) for record in current.values()]
        return build_response(msg, 200, headers=headers, to_tag=new_tag())


def _contact(record: dict[str, Any], now: float) -> str:
    text = f"<{record['contact']}>;expires={max(0, int(record['expires_at'] - now))}"
    if record.get("instance"):
        text += f';+sip.instance="{record["instance"]}"'
    if record.get("reg_id") is not None:
        text += f";reg-id={record['reg_id']}"
    return text


def _no_failure(host: str, reason: str, tenant: int | None = None) -> None:
    return None


def _since(old: dict[str, Any] | None, msg: Any) -> float | None:
    """When the binding ``old`` was first registered, if this REGISTER refreshes it."""
    if old is not None and old["call_id"] == msg.call_id:
        return float(old["registered_at"])
    return None


def _ip_account(records: list[Record], host: str) -> Record | None:
    """The IP-authenticated account among ``records`` whose networks hold ``host``."""
    for record in records:
        if record["auth_method"] == "ip" and record["ip_networks"]:
            rules: list[tuple[Action, str]] = [("deny", "0.0.0.0/0"), ("deny", "::/0")]
            rules += [("permit", network) for network in record["ip_networks"]]
            if access_allows(rules, host):
                return record
    return None


def _branch(msg: Any) -> str:
    vias = msg.via
    return (vias[0].branch or "") if vias else ""
