"""The event loop the load drivers run on: uvloop, as the edge does (asyncio without it)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any


def runner() -> Callable[[Any], Any]:
    """``run(coroutine)`` on uvloop when installed, else asyncio's."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency of provedge
        return asyncio.run
    return uvloop.run
