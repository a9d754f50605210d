"""Where a vendor file's Default template and its advanced (Jinja2) sample live.

The sample of ``templates/<vendor>/<name>`` is ``templates/<vendor>/advanced/<name>.j2``
and renders the same bytes for the same values (docs/templates.md, "Advanced samples").
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from control.domain.catalog import VendorFile

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates"
SAMPLES_DIR = "advanced"
SAMPLE_SUFFIX = ".j2"

__all__ = [
    "SAMPLES_DIR",
    "SAMPLE_SUFFIX",
    "TEMPLATES_DIR",
    "advanced_sample_path",
    "default_template_path",
]


def default_template_path(vendor_file: VendorFile, templates_dir: Path = TEMPLATES_DIR) -> Path:
    """The Default-engine template the compiler renders for ``vendor_file``."""
    return templates_dir / vendor_file.template


def advanced_sample_path(vendor_file: VendorFile, templates_dir: Path = TEMPLATES_DIR) -> Path:
    """The advanced-engine sample equivalent to ``vendor_file``'s Default template."""
    template = PurePosixPath(vendor_file.template)
    return templates_dir / template.parent / SAMPLES_DIR / (template.name + SAMPLE_SUFFIX)
