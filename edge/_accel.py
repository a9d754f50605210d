"""Choose between a compiled accelerator and its pure-Python twin, once, at import.

The choice is the ``accel`` setting (docs/configuration.md), read from the environment
because it is made at import: ``PROVEDGE_ACCEL``, which ``Config.apply_accel`` sets before
the accelerators are imported, or ``PROVEDGE_NO_EXTENSIONS=1``, the older spelling of
``py`` (same switch idea as aiohttp's ``AIOHTTP_NO_EXTENSIONS``). ``c`` requires the
compiled module, ``py`` forces the twin, ``auto`` takes the compiled one when it was built.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from provedge.config import accel_from_env


def extensions_disabled() -> bool:
    return accel_from_env() == "py"


def load(compiled: str, twin: str) -> tuple[ModuleType, str]:
    """Return (module, "c" | "py") for the accelerator named ``compiled``."""
    chosen = accel_from_env()
    if chosen != "py":
        try:
            return importlib.import_module(compiled), "c"
        except ImportError:
            if chosen == "c":
                raise
    return importlib.import_module(twin), "py"
