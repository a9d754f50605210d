"""Writing a device's BLF keys, for the operator's API and the end user's self-service:
the tenant's extensions only, and lines and keys together within the model's keys."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from control.domain.catalog import MODELS
from control.domain.errors import invalid


def extension_ids(
    conn: sqlite3.Connection, tenant_id: int, numbers: Sequence[str], field: str
) -> list[int]:
    """The ids of the tenant's extensions ``numbers``; a 422 on ``field[i].extension``
    for the first that the tenant has not."""
    found = []
    for index, number in enumerate(numbers):
        ext = conn.execute(
            "SELECT id FROM extensions WHERE tenant_id = ? AND number = ?", (tenant_id, number)
        ).fetchone()
        if ext is None:
            raise invalid(f"{field}[{index}].extension", f"no extension {number} in this tenant")
        found.append(int(ext["id"]))
    return found


def write_keys(
    conn: sqlite3.Connection, device: sqlite3.Row, keys: Sequence[tuple[str, str]]
) -> bool:
    """Replace the keys of ``device`` (a devices row), each ``(extension number, label)``,
    in the caller's transaction; True when they changed."""
    ids = extension_ids(conn, device["tenant_id"], [n for n, _ in keys], "keys")
    model = MODELS[device["model"]]
    (lines,) = conn.execute(
        "SELECT count(*) FROM device_lines WHERE mac = ?", (device["mac"],)
    ).fetchone()
    if keys and lines + len(keys) > model.line_keys:
        raise invalid(
            f"keys[{max(0, model.line_keys - lines)}]",
            f"{model.label} has {model.line_keys} programmable key(s);"
            f" {lines} line(s) and {len(keys)} key(s) do not fit",
        )
    wanted = [(ext, label) for ext, (_number, label) in zip(ids, keys, strict=True)]
    current = [(r["extension_id"], r["label"]) for r in conn.execute(
        "SELECT extension_id, label FROM device_keys WHERE mac = ? ORDER BY position",
        (device["mac"],),
    )]  # fmt: skip
    if current == wanted:
        return False
    conn.execute("DELETE FROM device_keys WHERE mac = ?", (device["mac"],))
    conn.executemany(
        "INSERT INTO device_keys (mac, position, kind, extension_id, label)"
        " VALUES (?, ?, 'blf', ?, ?)",
        [(device["mac"], pos, ext, label) for pos, (ext, label) in enumerate(wanted, 1)],
    )
    return True
