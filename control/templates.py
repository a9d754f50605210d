"""Custom templates: upload (after lint), list, change, delete, samples and previews.

Stored in SQLite (``templates``); which one renders a file is control/publish/custom.py's
resolution, applied by every publish. A change to a template, or to which is a tenant's
default, bumps the revs of the devices (and the tenant, for common files) it may render
for, and queues the recompile job: the phones get the new files as the job goes, each file
whole (one LMDB transaction per batch).
"""

from __future__ import annotations

import sqlite3
from pathlib import PurePosixPath
from typing import Any

from control.domain.catalog import MODELS, VendorFile, common_files, device_files
from control.domain.errors import ServiceError, conflict, invalid, not_found
from control.domain.variables import common_values, device_values
from control.jobs import store as jobs
from control.jobs.kinds import RECOMPILE
from control.publish import custom
from control.publish.compiler import Compiler
from control.publish.samples import advanced_sample_path, default_template_path
from control.storage import loading

MASK = "********"  # a fetch password's stand-in in a preview's variables

VENDORS = tuple(dict.fromkeys(model.vendor.id for model in MODELS.values()))


def view(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "id": row["id"], "tenant": row["tenant_id"], "name": row["name"],
        "vendor": row["vendor"], "model": row["model"], "file": row["file"],
        "engine": row["engine"], "source": row["source"], "default": bool(row["is_default"]),
        "created_at": row["created_at"], "updated_at": row["updated_at"],
    }  # fmt: skip


def sample(model_id: str, file: str, engine: str) -> str:
    """The shipped template of ``model_id``'s ``file`` in ``engine``'s language."""
    model = MODELS.get(model_id)
    if model is None:
        raise not_found("model", "model")
    vendor_file = next((f for f in model.vendor.files if custom.file_name(f) == file), None)
    if vendor_file is None:
        names = sorted({custom.file_name(f) for f in model.vendor.files})
        raise not_found("file", f"file of this model (it has {', '.join(names)})")
    path = default_template_path(vendor_file)
    if engine == "advanced":
        path = advanced_sample_path(vendor_file)
    return path.read_text(encoding="utf-8")


def check(
    conn: sqlite3.Connection, compiler: Compiler, edge_url: str, tenant_id: int,
    fields: dict[str, Any], edge_ip: str | None = None,
) -> None:  # fmt: skip
    """422 naming what is wrong with a template's target, or each lint problem."""
    vendor, model = fields["vendor"], fields.get("model")
    if vendor not in VENDORS:
        raise invalid("vendor", f"one of {', '.join(VENDORS)}")
    if model is not None and (model not in MODELS or MODELS[model].vendor.id != vendor):
        raise invalid("model", f"not a model of {vendor}")
    if not custom.vendor_files(vendor, fields["file"]):
        names = sorted({custom.file_name(f) for m in MODELS.values() if m.vendor.id == vendor
                        for f in m.vendor.files})  # fmt: skip
        raise invalid("file", f"{vendor} has the files {', '.join(names)}")
    tenant = loading.tenant_data(
        conn.execute("SELECT * FROM tenants WHERE id = ?", (tenant_id,)).fetchone(),
        edge_url,
        edge_ip,
    )
    problems = custom.lint(compiler, tenant, vendor, model, fields["file"], fields["engine"],
                           fields["source"])  # fmt: skip
    if problems:
        raise ServiceError(422, {f"source[{n}]": p.text() for n, p in enumerate(problems)})


def save(
    conn: sqlite3.Connection, tenant_id: int, fields: dict[str, Any], template_id: int | None
) -> int:
    """Insert or update; a default takes over from the tenant's former one for its target."""
    if fields.get("is_default"):
        conn.execute(
            "UPDATE templates SET is_default = 0, rev = rev + 1 WHERE tenant_id = ? AND vendor = ?"
            " AND coalesce(model, '') = coalesce(?, '') AND file = ? AND is_default = 1"
            " AND id IS NOT ?",
            (tenant_id, fields["vendor"], fields.get("model"), fields["file"], template_id),
        )
    try:
        if template_id is None:
            cur = conn.execute(
                "INSERT INTO templates (tenant_id, name, vendor, model, file, engine, source,"
                " is_default) VALUES (:tenant, :name, :vendor, :model, :file, :engine, :source,"
                " :is_default)",
                {"tenant": tenant_id, "model": None, "is_default": 0, **fields},
            )
            return int(cur.lastrowid or 0)
        columns = ", ".join(f"{name} = :{name}" for name in fields)
        conn.execute(
            f"UPDATE templates SET {columns}, rev = rev + 1,"
            " updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = :id",
            {**fields, "id": template_id},
        )
        return template_id
    except sqlite3.IntegrityError:
        raise conflict("name", "a template of this tenant has this name") from None


def recompile(conn: sqlite3.Connection, tenant_id: int, vendor: str) -> int:
    """Mark what a template of ``vendor`` may render for, and queue the job; its id."""
    models = [m.id for m in MODELS.values() if m.vendor.id == vendor]
    marks = ", ".join("?" * len(models))
    conn.execute(
        f"UPDATE devices SET rev = rev + 1 WHERE tenant_id = ? AND model IN ({marks})",
        (tenant_id, *models),
    )
    conn.execute("UPDATE tenants SET rev = rev + 1 WHERE id = ?", (tenant_id,))
    return jobs.enqueue(conn, RECOMPILE, tenant_id)


def render_errors(conn: sqlite3.Connection, row: sqlite3.Row, shown: int = 5) -> dict[str, Any]:
    """The devices whose last render failed among those template ``row`` renders a file
    for: how many, and the first ``shown`` by MAC with their error. A device's error is
    not tied to one file, so a device with two custom templates counts on both."""
    models = [m.id for m in MODELS.values() if fits(row, m.id)]
    own = [custom.from_row(r) for r in conn.execute(
        "SELECT * FROM templates WHERE tenant_id = ?", (row["tenant_id"],)
    )]  # fmt: skip
    failing = conn.execute(
        "SELECT mac, model, template_id, render_error FROM devices WHERE tenant_id = ?"
        f" AND render_error != '' AND model IN ({', '.join('?' * len(models))}) ORDER BY mac",
        (row["tenant_id"], *models),
    )
    found = [
        {"mac": device["mac"], "error": device["render_error"]}
        for device in failing
        if _renders_for(own, row["id"], device)
    ]
    return {"count": len(found), "devices": found[:shown]}


def _renders_for(own: list[custom.Custom], template_id: int, device: sqlite3.Row) -> bool:
    model = MODELS[device["model"]]
    return any(
        (chosen := custom.choose(own, device["template_id"], model, vendor_file)) is not None
        and chosen.id == template_id
        for _, vendor_file in device_files(model, device["mac"])
    )


def fits(template: sqlite3.Row, model_id: str) -> bool:
    return template["vendor"] == MODELS[model_id].vendor.id and template["model"] in (
        None, model_id,
    )  # fmt: skip


def preview(
    conn: sqlite3.Connection, compiler: Compiler, edge_url: str, device_row: sqlite3.Row,
    file: str, template_id: int | None, edge_ip: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """The bytes the phone gets for ``file`` now (or with template ``template_id``), and
    the variables the file can use with their values."""
    model = MODELS[device_row["model"]]
    files: dict[str, VendorFile] = dict(device_files(model, device_row["mac"]))
    files.update(dict(common_files(model)))
    # Case-blind: a phone asks Snom's files by an upper-case MAC, the edge's names are too.
    vendor_file = {name.lower(): f for name, f in files.items()}.get(file.lower())
    if vendor_file is None:
        raise not_found("file", f"file of this device (it has {', '.join(sorted(files))})")
    tenant_row = conn.execute(
        "SELECT * FROM tenants WHERE id = ?", (device_row["tenant_id"],)
    ).fetchone()
    tenant = loading.tenant_data(tenant_row, edge_url, edge_ip)
    device = loading.device_data(conn, device_row)
    own = [custom.from_row(r) for r in conn.execute(
        "SELECT * FROM templates WHERE tenant_id = ?", (device_row["tenant_id"],)
    )]  # fmt: skip
    if template_id is not None:
        chosen = next((t for t in own if t.id == template_id), None)
        if chosen is None:
            raise not_found("template", "template of this tenant")
        if (
            chosen.vendor != model.vendor.id
            or chosen.model not in (None, model.id)
            or (chosen.file != custom.file_name(vendor_file))
        ):
            raise invalid("template", f"not a template for {file} of {model.id}")
    else:
        override = device_row["template_id"] if vendor_file.scope == "device" else None
        chosen = custom.choose(own, override, model, vendor_file)
    body = compiler.render_file(vendor_file, tenant, device, chosen)
    values = (
        common_values(tenant, model) if vendor_file.scope == "common"
        else device_values(tenant, device)
    )  # fmt: skip
    return {
        "file": file.lower(), "content_type": vendor_file.content_type,
        "body": body.decode("utf-8", "replace"),
        "template": None if chosen is None else chosen.id,
        "shipped": PurePosixPath(vendor_file.template).as_posix(),
        "variables": _masked(values, device.fetch_password),
    }  # fmt: skip


def _masked(values: dict[str, str], fetch_password: str) -> dict[str, str]:
    """The variables, sorted, with the fetch password hidden wherever a value carries it
    (``device.fetch_url``): device views never show fetch credentials (docs/delivery.md);
    the preview's body stays the exact bytes the phone gets."""
    if not fetch_password:
        return dict(sorted(values.items()))
    return {name: value.replace(fetch_password, MASK) for name, value in sorted(values.items())}
