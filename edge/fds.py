"""The process's file-descriptor limit: every TCP connection of the edge holds one.

The soft limit (often 1,024) is raised to the hard one (often 524,288 under systemd) once,
at start: what the hard limit allows is the host's choice, the soft one is a leftover
default. The edge's main process raises it before it starts the workers, which
inherit it; each worker's caps (edge/http/limits.py, edge/sip/flows.py) are fitted to it.
"""

from __future__ import annotations

import contextlib
import resource


def raised() -> int:
    """The soft limit, raised to the hard one where it was lower (RLIM_INFINITY: none)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
    return soft
