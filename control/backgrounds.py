"""Background images of a tenant: upload, list, delete, and a device's choice of one.

An upload is checked by Pillow (control/domain/backgrounds.py) before the writer is
taken, stored whole in SQLite (``backgrounds``) and published by the next step as its
scaled files (owner ``background/<id>``, control/storage/loading.py). A device shows one
of its own tenant's backgrounds where its model takes one; choosing bumps its rev, so its
file is republished with the vendor's wallpaper setting pointing at the scaled file.

Delete is refused (409, naming how many devices) while devices show the background,
unless ``force``: then those devices go back to none in the same transaction and are
republished, and the withdrawal of its files is queued by the delete trigger.
"""

from __future__ import annotations

import hashlib
import sqlite3
from typing import Any

from control.domain import backgrounds
from control.domain.catalog import MODELS
from control.domain.errors import ServiceError, conflict, not_found


def checked(data: bytes, content_type: str) -> tuple[int, int]:
    """Pillow's verdict, outside any transaction (it may take a few tens of ms)."""
    return backgrounds.check_upload(data, content_type)


def insert(
    conn: sqlite3.Connection, tenant_id: int, name: str | None, data: bytes, content_type: str,
    size: tuple[int, int],
) -> int:  # fmt: skip
    """A checked upload as a new background of the tenant; 409 for the same image twice."""
    digest = hashlib.sha256(data).hexdigest()
    same = conn.execute(
        "SELECT id FROM backgrounds WHERE tenant_id = ? AND sha256 = ?", (tenant_id, digest)
    ).fetchone()
    if same is not None:
        raise conflict("body", f"this image is background {same['id']} of the tenant")
    cur = conn.execute(
        "INSERT INTO backgrounds (tenant_id, name, sha256, content_type, width, height, size,"
        " image) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (tenant_id, name or f"background {digest[:8]}", digest, content_type, *size,
         len(data), data),
    )  # fmt: skip
    return int(cur.lastrowid or 0)


_COLUMNS = (
    "SELECT b.id, b.tenant_id, b.name, b.sha256, b.content_type, b.width, b.height, b.size,"
    " b.rev, b.published_rev, b.created_at,"
    " (SELECT count(*) FROM devices d WHERE d.background_id = b.id) AS devices"
    " FROM backgrounds b"
)


def rows(conn: sqlite3.Connection, tenant_id: int | None) -> list[sqlite3.Row]:
    found: list[sqlite3.Row] = conn.execute(
        f"{_COLUMNS} WHERE ? IS NULL OR b.tenant_id = ? ORDER BY b.id", (tenant_id, tenant_id)
    ).fetchall()
    return found


def row(conn: sqlite3.Connection, background_id: int, scope: int | None) -> sqlite3.Row:
    """One background within the tenant ``scope`` (None: any); the ordinary 404 otherwise."""
    found: sqlite3.Row | None = conn.execute(
        f"{_COLUMNS} WHERE b.id = ?", (background_id,)
    ).fetchone()
    if found is None or (scope is not None and found["tenant_id"] != scope):
        raise not_found("id", "background")
    return found


def view(found: sqlite3.Row, provisioning_url: str) -> dict[str, Any]:
    stem = found["sha256"][: backgrounds.STEM_LENGTH]
    files = []
    for variant in backgrounds.variants():
        name = backgrounds.file_name(stem, variant)
        models = [m.id for m in MODELS.values() if backgrounds.variant_of(m) == variant]
        files.append({
            "name": name, "url": provisioning_url + name, "width": variant.width,
            "height": variant.height, "content_type": variant.content_type, "models": models,
        })  # fmt: skip
    return {
        "id": found["id"], "tenant": found["tenant_id"], "name": found["name"],
        "sha256": found["sha256"], "content_type": found["content_type"],
        "width": found["width"], "height": found["height"], "size": found["size"],
        "devices": found["devices"], "files": files,
        "published": found["published_rev"] >= found["rev"], "created_at": found["created_at"],
    }  # fmt: skip


def delete(conn: sqlite3.Connection, found: sqlite3.Row, force: bool) -> list[str]:
    """Deletes it; the MACs of the devices that showed it (now none, rev bumped)."""
    macs = [
        r["mac"]
        for r in conn.execute(
            "SELECT mac FROM devices WHERE background_id = ? ORDER BY mac", (found["id"],)
        )
    ]
    if macs and not force:
        raise conflict(
            "devices", f"shown by {len(macs)} device(s) ({', '.join(macs[:10])}"
            f"{', ...' if len(macs) > 10 else ''}); ?force=true clears them and deletes it",
        )  # fmt: skip
    conn.execute(
        "UPDATE devices SET background_id = NULL, rev = rev + 1 WHERE background_id = ?",
        (found["id"],),
    )
    # The delete trigger queues the withdrawal of its files (schema.sql).
    conn.execute("DELETE FROM backgrounds WHERE id = ?", (found["id"],))
    return macs


def check_choice(
    conn: sqlite3.Connection, tenant_id: int, model_id: str, background_id: int | None,
    field: str,
) -> None:  # fmt: skip
    """A device of ``tenant_id`` and ``model_id`` may show ``background_id`` (None: none):
    404 for a background that is not its tenant's, 422 for a model without a screen."""
    if background_id is None:
        return
    model = MODELS[model_id]
    if conn.execute(
        "SELECT 1 FROM backgrounds WHERE id = ? AND tenant_id = ?", (background_id, tenant_id)
    ).fetchone() is None:  # fmt: skip
        raise ServiceError(404, {field: "no such background in the device's tenant"})
    backgrounds.refuse_unless_screen(model, field)


def choose(conn: sqlite3.Connection, device: sqlite3.Row, background_id: int | None) -> bool:
    """Set a device's background (checked by :func:`check_choice`); True when it changed
    (the caller bumps the device's rev, with its other changes)."""
    if device["background_id"] == background_id:
        return False
    conn.execute(
        "UPDATE devices SET background_id = ? WHERE mac = ?",
        (background_id, device["mac"]),
    )
    return True
