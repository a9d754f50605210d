"""Choose between a compiled accelerator and its pure-Python twin, once, at import.

``PROVEDGE_NO_EXTENSIONS=1`` forces the twins (same switch idea as aiohttp's
``AIOHTTP_NO_EXTENSIONS``); otherwise the compiled module is used when it was built.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType


def extensions_disabled() -> bool:
    return os.environ.get("PROVEDGE_NO_EXTENSIONS", "") not in ("", "0")


def load(compiled: str, twin: str) -> tuple[ModuleType, str]:
    """Return (module, "c" | "py") for the accelerator named ``compiled``."""
    if not extensions_disabled():
        try:
            return importlib.import_module(compiled), "c"
        except ImportError:
            pass
    return importlib.import_module(twin), "py"
