"""Turns (tenant, device, its lines, template) into the exact bytes of each vendor file.

Templates are Default-engine files under templates/, or an operator's custom template
(control/publish/custom.py: Default or advanced engine) where one is chosen; each is
compiled once per (template, its rev, escape, allowed names) and cached, so compiling a
device is one render per file.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from control.domain.catalog import MODELS, Model, VendorFile, common_files, device_files
from control.domain.variables import (
    DeviceData,
    TenantData,
    common_values,
    device_values,
    known_names,
)
from control.publish.advanced import compile_advanced
from control.publish.custom import Custom
from edge import fastrender
from provedge.formats import store

# Which custom template renders a vendor file (None: the shipped one).
Chooser = Callable[[VendorFile], Custom | None]

DEFAULT_TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


class Compiler:
    def __init__(self, templates_dir: Path = DEFAULT_TEMPLATES) -> None:
        self.templates_dir = templates_dir
        self._plans: dict[tuple[Any, ...], Any] = {}
        # the shipped template's plan by (template, escape, model, scope): what a
        # recompile asks for twice per phone, without building the names it may use
        self._shipped: dict[tuple[str, str, str, str], Any] = {}

    def plan(
        self, vendor_file: VendorFile, model: Model, custom: Custom | None = None,
        var_names: frozenset[str] = frozenset(),
    ) -> Any:  # fmt: skip
        """The compiled template (``render(values) -> bytes``); TemplateError for a custom
        source that does not compile. ``var_names``: the tenant's ``vars.*``."""
        if custom is None:
            fast = (vendor_file.template, vendor_file.escape, model.id, vendor_file.scope)
            found = self._shipped.get(fast)
            if found is None:
                found = self._shipped[fast] = self._compiled(vendor_file, model, None, var_names)
            return found
        return self._compiled(vendor_file, model, custom, var_names)

    def _compiled(
        self, vendor_file: VendorFile, model: Model, custom: Custom | None,
        var_names: frozenset[str],
    ) -> Any:  # fmt: skip
        known = known_names(model, vendor_file.scope, var_names if custom else frozenset())
        if custom is None:
            cache_key: tuple[Any, ...] = (vendor_file.template, vendor_file.escape, known)
        else:
            cache_key = ("custom", custom.id, custom.rev, custom.engine, custom.source if not
                         custom.id else "", vendor_file.escape, known)  # fmt: skip
        plan = self._plans.get(cache_key)
        if plan is None:
            if custom is None:
                source = (self.templates_dir / vendor_file.template).read_text(encoding="utf-8")
                plan = fastrender.compile_template(source, escape=vendor_file.escape, known=known)
            elif custom.engine == "advanced":
                plan = compile_advanced(custom.source, custom.file, vendor_file.escape)
            else:
                plan = fastrender.compile_template(
                    custom.source, escape=vendor_file.escape, known=known
                )
            if custom is None or custom.id:  # a trial (lint) is not kept
                self._plans[cache_key] = plan
        return plan

    def render_file(
        self, vendor_file: VendorFile, tenant: TenantData, device: DeviceData,
        custom: Custom | None,
    ) -> bytes:  # fmt: skip
        """One file of one device, as the phone gets it."""
        if vendor_file.scope == "common":
            values = common_values(tenant, device.model)
        else:
            values = device_values(tenant, device)
        plan = self.plan(vendor_file, device.model, custom, tenant.var_names)
        return bytes(plan.render(values))

    def device_files(
        self, url_key: str, tenant: TenantData, device: DeviceData, choose: Chooser | None = None
    ) -> dict[bytes, bytes]:
        values = device_values(tenant, device)
        return {
            store.blob_key(url_key, name): store.encode_blob(
                vfile.content_type,
                self._plan_of(
                    vfile, device.model, choose(vfile) if choose else None, tenant
                ).render(values),
            )
            for name, vfile in device_files(device.model, device.mac)
        }

    def _plan_of(
        self, vfile: VendorFile, model: Model, custom: Custom | None, tenant: TenantData
    ) -> Any:
        # the tenant's var names only for a custom template (a shipped one has none)
        return self.plan(vfile, model, custom, tenant.var_names if custom else frozenset())

    def tenant_files(
        self, url_key: str, tenant: TenantData,
        choose: Callable[[Model, VendorFile], Custom | None] | None = None,
    ) -> dict[bytes, bytes]:  # fmt: skip
        """Common files of every catalogue model, so any supported phone finds its own."""
        files: dict[bytes, bytes] = {}
        for model in MODELS.values():
            values = common_values(tenant, model)
            for name, vfile in common_files(model):
                key = store.blob_key(url_key, name)
                if key not in files:  # shared names (cfg.xml, 000000000000.cfg) render alike
                    custom = choose(model, vfile) if choose else None
                    body = self.plan(vfile, model, custom, tenant.var_names).render(values)
                    files[key] = store.encode_blob(vfile.content_type, body)
        return files

    def check_all(self) -> None:
        """Compile every template for every model: a broken template fails at start-up."""
        for model in MODELS.values():
            for vfile in model.vendor.files:
                self.plan(vfile, model)
