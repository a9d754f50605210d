"""API tokens: random bearer tokens, stored only as SHA-256 hashes, each with a role and scope.

Roles: ``operator`` sees every tenant; ``tenant_admin`` and ``end_user`` are bound to one
tenant (``scope``), and anything outside it answers 404 as if it did not exist. An
``end_user`` token is also bound to one SIP account: it reaches only the ``/api/v1/me``
routes, over the devices whose lines carry that account.

A token's id is the first 12 hex digits of its hash: enough to name it in a list or a
revoke, nothing an attacker can use (the token has 256 random bits). A token may expire
(``expires_at``, unix seconds); an expired or revoked token answers as an unknown one.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

from control.domain.errors import invalid, not_found
from control.storage.db import Database

ROLES = ("operator", "tenant_admin", "end_user")
ID_LENGTH = 12


@dataclass(frozen=True, slots=True)
class Principal:
    role: str
    tenant_id: int | None
    label: str = ""
    token_id: str = ""
    account_id: int | None = None  # end users: the account the token is bound to

    @property
    def scope(self) -> int | None:
        """The tenant every query is limited to; None for operators."""
        return None if self.role == "operator" else self.tenant_id


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    db: Database,
    role: str,
    tenant_id: int | None = None,
    label: str = "",
    account: str | None = None,
    expires_at: float | None = None,
) -> str:
    """A new token, shown once. ``account`` (a username of the tenant) is required for
    ``end_user`` and refused otherwise; 422 naming the field."""
    if role not in ROLES:
        raise invalid("role", f"one of {', '.join(ROLES)}")
    if role != "operator" and tenant_id is None:
        raise invalid("tenant", f"required for role {role}")
    if (role == "end_user") != (account is not None):
        raise invalid("account", "required for role end_user, and only for it")
    if expires_at is not None and expires_at <= time.time():
        raise invalid("expires_at", "in the past")
    token = "pe_" + secrets.token_urlsafe(32)
    with db.transaction() as conn:
        account_id = None
        if account is not None:
            row = conn.execute(
                "SELECT id FROM accounts WHERE tenant_id = ? AND username = ?",
                (tenant_id, account),
            ).fetchone()
            if row is None:
                raise invalid("account", f"no account {account} in this tenant")
            account_id = row["id"]
        conn.execute(
            "INSERT INTO tokens (token_hash, role, tenant_id, label, account_id, expires_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                token_hash(token),
                role,
                tenant_id if role != "operator" else None,
                label,
                account_id,
                expires_at,
            ),
        )
    return token


def _iso(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def token_view(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "id": row["token_hash"][:ID_LENGTH],
        "role": row["role"],
        "tenant": row["tenant_id"],
        "account": row["username"],
        "label": row["label"],
        "created_at": row["created_at"],
        "expires_at": _iso(row["expires_at"]),
        "expired": row["expires_at"] is not None and row["expires_at"] <= time.time(),
        "last_used_at": row["last_used_at"],
    }


_TOKEN_ROWS = "SELECT t.*, a.username FROM tokens t LEFT JOIN accounts a ON a.id = t.account_id"


def list_tokens(db: Database, tenant_id: int | None = None) -> list[dict[str, Any]]:
    rows = db.query(
        _TOKEN_ROWS + " WHERE ? IS NULL OR t.tenant_id = ? ORDER BY t.created_at, t.token_hash",
        (tenant_id, tenant_id),
    )
    return [token_view(row) for row in rows]


def get_token(db: Database, token_id: str) -> dict[str, Any]:
    rows = db.query(_TOKEN_ROWS + " WHERE substr(t.token_hash, 1, ?) = ?", (ID_LENGTH, token_id))
    if len(rows) != 1:  # unknown, or (never seen) an ambiguous prefix
        raise not_found("id", "token")
    return token_view(rows[0])


def revoke_token(db: Database, token_id: str) -> dict[str, Any]:
    """Deletes the token (its record stays in the audit trail); 404 when unknown."""
    view = get_token(db, token_id)
    with db.transaction() as conn:
        conn.execute("DELETE FROM tokens WHERE substr(token_hash, 1, ?) = ?", (ID_LENGTH, token_id))
    return view


def bearer(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer`` header, or None."""
    if not authorization or not authorization.startswith("Bearer "):
        return None
    return authorization[7:].strip() or None


def lookup(db: Database, token: str, now: float | None = None) -> Principal | None:
    """The principal of a valid token: known, not expired; None otherwise."""
    row = db.query_one(
        "SELECT token_hash, role, tenant_id, label, account_id, expires_at FROM tokens"
        " WHERE token_hash = ?",
        (token_hash(token),),
    )
    if row is None or (row["expires_at"] is not None and row["expires_at"] <= (now or time.time())):
        return None
    return Principal(
        row["role"],
        row["tenant_id"],
        row["label"],
        row["token_hash"][:ID_LENGTH],
        row["account_id"],
    )


def authenticate(db: Database, authorization: str | None) -> Principal | None:
    token = bearer(authorization)
    return None if token is None else lookup(db, token)
