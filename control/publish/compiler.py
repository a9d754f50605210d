"""Turns (tenant, device, its lines, template) into the exact bytes of each vendor file.

Templates are Default-engine files under templates/; each is compiled once per
(template, escape, allowed names) into a fastrender plan and cached, so compiling a
device is one render per file.
"""

from __future__ import annotations

from pathlib import Path

from control.domain.catalog import MODELS, Model, VendorFile, common_files, device_files
from control.domain.variables import (
    DeviceData,
    TenantData,
    common_values,
    device_values,
    known_names,
)
from edge import fastrender
from provedge.formats import store

DEFAULT_TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


class Compiler:
    def __init__(self, templates_dir: Path = DEFAULT_TEMPLATES) -> None:
        self.templates_dir = templates_dir
        self._plans: dict[tuple[str, str, frozenset[str]], fastrender.Plan] = {}

    def plan(self, vendor_file: VendorFile, model: Model) -> fastrender.Plan:
        known = known_names(model, vendor_file.scope)
        cache_key = (vendor_file.template, vendor_file.escape, known)
        plan = self._plans.get(cache_key)
        if plan is None:
            source = (self.templates_dir / vendor_file.template).read_text(encoding="utf-8")
            plan = fastrender.compile_template(source, escape=vendor_file.escape, known=known)
            self._plans[cache_key] = plan
        return plan

    def device_files(
        self, url_key: str, tenant: TenantData, device: DeviceData
    ) -> dict[bytes, bytes]:
        values = device_values(tenant, device)
        return {
            store.blob_key(url_key, name): store.encode_blob(
                vfile.content_type, self.plan(vfile, device.model).render(values)
            )
            for name, vfile in device_files(device.model, device.mac)
        }

    def tenant_files(self, url_key: str, tenant: TenantData) -> dict[bytes, bytes]:
        """Common files of every catalogue model, so any supported phone finds its own."""
        files: dict[bytes, bytes] = {}
        for model in MODELS.values():
            values = common_values(tenant, model)
            for name, vfile in common_files(model):
                key = store.blob_key(url_key, name)
                if key not in files:  # shared names (cfg.xml, 000000000000.cfg) render alike
                    body = self.plan(vfile, model).render(values)
                    files[key] = store.encode_blob(vfile.content_type, body)
        return files

    def check_all(self) -> None:
        """Compile every template for every model: a broken template fails at start-up."""
        for model in MODELS.values():
            for vfile in model.vendor.files:
                self.plan(vfile, model)
