"""Custom templates: which one renders a device's file, and the lint an upload passes.

An operator's template replaces one shipped template (``file``: its name as shipped,
``mac.cfg``, ``common.cfg``, ...) for a vendor, or for one model of it. Which template
renders a file of a device, first match wins:

1. the device's own override (``PATCH /api/v1/devices/{mac} {template}``), when it is
   a template for this file of the device's vendor (and model, if it names one);
2. the tenant's default for the device's model and this file;
3. the tenant's default for the device's vendor and this file;
4. the shipped template.

Lint runs before anything is stored: the source compiles in its engine (syntax, the
sandbox's refusals, unknown variables with line, column and the closest known name), then
renders for a sample device of the model (or of every model of the vendor) with one line
and with the most lines the model takes, and each result must be well formed for the
vendor: XML parses with the root element the shipped file has, Yealink's files start
with ``#!version:1.0.0.1``, text formats hold one ``name = value`` setting per line.
"""

from __future__ import annotations

import functools
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from control.domain.catalog import MODELS, Model, VendorFile
from control.domain.variables import DeviceData, LineData, TenantData
from edge.template_errors import TemplateError

ENGINES = ("default", "advanced")
YEALINK_HEADER = b"#!version:1.0.0.1"


@dataclass(frozen=True, slots=True)
class Custom:
    id: int
    rev: int
    engine: str
    source: str
    vendor: str
    model: str | None
    file: str
    is_default: bool


def from_row(row: Mapping[str, Any]) -> Custom:
    return Custom(
        int(row["id"]), int(row["rev"]), str(row["engine"]), str(row["source"]),
        str(row["vendor"]), row["model"], str(row["file"]), bool(row["is_default"]),
    )  # fmt: skip


def file_name(vendor_file: VendorFile) -> str:
    """A vendor file's template name as shipped (``mac.cfg``)."""
    return _base_name(vendor_file.template)


@functools.lru_cache(maxsize=256)
def _base_name(template: str) -> str:
    return PurePosixPath(template).name


def vendor_files(vendor: str, file: str) -> list[VendorFile]:
    """The vendor's files whose shipped template is ``file`` (empty: no such file)."""
    found: dict[str, VendorFile] = {}
    for model in MODELS.values():
        if model.vendor.id == vendor:
            for vfile in model.vendor.files:
                if file_name(vfile) == file:
                    found[vfile.template] = vfile
    return list(found.values())


def choose(
    templates: Iterable[Custom], override: int | None, model: Model, vendor_file: VendorFile
) -> Custom | None:
    """The custom template that renders ``vendor_file`` for a device of ``model`` (None:
    the shipped one), in the order the module docstring gives."""
    name, vendor = file_name(vendor_file), model.vendor.id
    fitting = [t for t in templates if t.vendor == vendor and t.file == name
               and t.model in (None, model.id)]  # fmt: skip
    for template in fitting:
        if template.id == override:
            return template
    for wanted in (model.id, None):
        for template in fitting:
            if template.is_default and template.model == wanted:
                return template
    return None


# ---- lint --------------------------------------------------------------------------------
def sample_device(model: Model, lines: int) -> DeviceData:
    line = [
        LineData(user=f"10{n}", auth_user=f"10{n}", password="sample-Password-1",
                 display_name=f"Line {n}", label=f"10{n}", expires=3600, enabled=True)
        for n in range(1, lines + 1)
    ]  # fmt: skip
    return DeviceData(mac="001565000001", model=model, name="Sample", admin_password="admin-1",
                      lines=tuple(line))  # fmt: skip


def well_formed(body: bytes, vendor_file: VendorFile, shipped: bytes) -> str | None:
    """What is wrong with a rendered file for its vendor, or None."""
    if vendor_file.escape == "xml" or shipped.lstrip().startswith(b"<"):
        try:
            root = ET.fromstring(body)
        except ET.ParseError as exc:
            return f"not well-formed XML: {exc}"
        want = ET.fromstring(shipped).tag
        if root.tag != want:
            return f"root element <{root.tag}>, the vendor reads <{want}>"
        return None
    if shipped.startswith(YEALINK_HEADER) and not body.startswith(YEALINK_HEADER):
        return "the first line must be #!version:1.0.0.1"
    for number, line in enumerate(body.decode("utf-8", "replace").splitlines(), 1):
        text = line.strip()
        if not text or text.startswith(("#", ";", "//")):
            continue
        if "=" not in text or not text.split("=", 1)[0].strip():
            return f"line {number}: not one `name = value` setting"
    return None


@dataclass(frozen=True, slots=True)
class Problem:
    message: str
    line: int | None = None
    column: int | None = None

    def text(self) -> str:
        where = (
            ""
            if self.line is None
            else f"line {self.line}" + ("" if self.column is None else f", column {self.column}")
        )
        return f"{where}: {self.message}" if where else self.message


def lint(
    compiler: Any, tenant: TenantData, vendor: str, model_id: str | None, file: str,
    engine: str, source: str,
) -> list[Problem]:  # fmt: skip
    """Every problem of an upload; empty when it may be stored."""
    files = vendor_files(vendor, file)
    if not files:
        return [Problem(f"{vendor} has no file {file!r}")]
    models = [m for m in MODELS.values() if m.vendor.id == vendor and model_id in (None, m.id)]
    trial = Custom(0, 0, engine, source, vendor, model_id, file, True)
    problems: list[Problem] = []
    for model in models:
        for vendor_file in files:
            if vendor_file not in model.vendor.files:
                continue
            try:
                compiler.plan(vendor_file, model, trial, tenant.var_names)
            except TemplateError as exc:
                return [Problem(exc.message, exc.line, exc.column)]
            for lines in sorted({1, max(model.max_lines, 1)}):
                device = sample_device(model, lines)
                try:
                    body = compiler.render_file(vendor_file, tenant, device, trial)
                except TemplateError as exc:
                    return [Problem(f"{model.id}, {lines} line(s): {exc.message}", exc.line)]
                shipped = compiler.render_file(vendor_file, tenant, device, None)
                wrong = well_formed(body, vendor_file, shipped)
                if wrong is not None:
                    problems.append(Problem(f"{model.id}, {lines} line(s): {wrong}"))
            if problems:
                return problems
    return problems
