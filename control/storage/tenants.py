"""Finding a tenant by its reference, within a token's scope."""

from __future__ import annotations

import sqlite3

from control.domain.errors import not_found


def find_tenant(
    conn: sqlite3.Connection, ref: int | str, field: str = "tenant", scope: int | None = None
) -> sqlite3.Row:
    """The tenant a reference (id or name) names, within ``scope``; 404 on ``field`` otherwise."""
    column = "id" if isinstance(ref, int) else "name"
    row: sqlite3.Row | None = conn.execute(
        f"SELECT * FROM tenants WHERE {column} = ?", (ref,)
    ).fetchone()
    if row is None or (scope is not None and row["id"] != scope):
        raise not_found(field, "tenant")
    return row
