"""Console log-ins: a random session id in a cookie, its hash and the token it acts with in SQLite.

A session is opened with an API token (the operator's, a tenant admin's or an end user's)
and acts with exactly that token's role and tenant, so the console can never do more than
the API would let the same token do. Only hashes are stored: a copy of the database gives
neither the cookie nor the token. Revoking or deleting the token ends its sessions (the
table references it, ``ON DELETE CASCADE``, and every request resolves the token again).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

from control.api.auth import ID_LENGTH, Principal, authenticate
from control.storage.db import Database

COOKIE = "provedge_session"
LIFETIME_S = 8 * 3600  # a working day; the cookie and the row expire together


@dataclass(frozen=True, slots=True)
class Session:
    principal: Principal
    csrf: str  # the token every form of this session carries back


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def open_session(db: Database, token: str, now: float | None = None) -> tuple[str, Session] | None:
    """The new session id and its session, or None when the token is not valid."""
    principal = authenticate(db, f"Bearer {token}")
    if principal is None:
        return None
    session_id = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    moment = time.time() if now is None else now
    with db.transaction() as conn:
        conn.execute("DELETE FROM console_sessions WHERE expires_at < ?", (moment,))
        conn.execute(
            "INSERT INTO console_sessions (id_hash, token_hash, csrf, expires_at)"
            " VALUES (?, ?, ?, ?)",
            (_hash(session_id), _hash(token), csrf, moment + LIFETIME_S),
        )
    return session_id, Session(principal, csrf)


def find_session(db: Database, session_id: str | None) -> Session | None:
    """The live session of that id whose token is still valid (not expired, not revoked)."""
    if not session_id:
        return None
    now = time.time()
    row = db.query_one(
        "SELECT s.csrf, t.token_hash, t.role, t.tenant_id, t.label, t.account_id FROM"
        " console_sessions s JOIN tokens t ON t.token_hash = s.token_hash"
        " WHERE s.id_hash = ? AND s.expires_at > ? AND (t.expires_at IS NULL OR t.expires_at > ?)",
        (_hash(session_id), now, now),
    )
    if row is None:
        return None
    principal = Principal(
        row["role"], row["tenant_id"], row["label"], row["token_hash"][:ID_LENGTH],
        row["account_id"],
    )  # fmt: skip
    return Session(principal, row["csrf"])


def close_session(db: Database, session_id: str | None) -> None:
    if session_id:
        with db.transaction() as conn:
            conn.execute("DELETE FROM console_sessions WHERE id_hash = ?", (_hash(session_id),))
