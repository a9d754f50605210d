"""API tokens: random bearer tokens, stored only as SHA-256 hashes, each with a role and scope.

Roles: ``operator`` sees every tenant; ``tenant_admin`` and ``end_user`` are bound to one
tenant (``scope``), and anything outside it answers 404 as if it did not exist.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from control.storage.db import Database

ROLES = ("operator", "tenant_admin", "end_user")


@dataclass(frozen=True, slots=True)
class Principal:
    role: str
    tenant_id: int | None

    @property
    def scope(self) -> int | None:
        """The tenant every query is limited to; None for operators."""
        return None if self.role == "operator" else self.tenant_id


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(db: Database, role: str, tenant_id: int | None = None, label: str = "") -> str:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    token = "pe_" + secrets.token_urlsafe(32)
    with db.transaction() as conn:
        conn.execute(
            "INSERT INTO tokens (token_hash, role, tenant_id, label) VALUES (?, ?, ?, ?)",
            (_hash(token), role, tenant_id if role != "operator" else None, label),
        )
    return token


def authenticate(db: Database, authorization: str | None) -> Principal | None:
    if not authorization or not authorization.startswith("Bearer "):
        return None
    row = db.query_one(
        "SELECT role, tenant_id FROM tokens WHERE token_hash = ?",
        (_hash(authorization[7:].strip()),),
    )
    return None if row is None else Principal(row["role"], row["tenant_id"])
