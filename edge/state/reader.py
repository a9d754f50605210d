"""The edge state as one worker reads it: a single read-only LMDB handle for the process.

LMDB forbids opening an environment twice in one process (its locks are fcntl locks of
the process and file: a second handle would share them, and closing it would release
them), and py-lmdb refuses the second open. Two parts of a worker read the edge state:
the firewall (``bans``, edge/sip/firewall.py) and the registrar's bindings
(``bindings``, edge/sip/bindings.py), so the worker opens it once, here, and both borrow
the handle (edge/http/server.py). Opened on first use, because the host's writer creates
the environment and its sub-databases when it starts, which may be after the worker.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lmdb

from provedge.formats import edgestate


class StateReader:
    def __init__(self, data_dir: str | Path) -> None:
        self.data_dir = Path(data_dir)
        self._env: lmdb.Environment | None = None
        self._dbs: dict[bytes, Any] = {}

    def db(self, name: bytes) -> tuple[lmdb.Environment, Any] | None:
        """The environment and its sub-database ``name``; None until the writer has
        created both."""
        env = self._env
        if env is None:
            try:
                env = self._env = edgestate.open_env(self.data_dir, readonly=True)
            except (FileNotFoundError, lmdb.Error):
                return None
        found = self._dbs.get(name)
        if found is None:
            try:
                found = self._dbs[name] = env.open_db(name, create=False)
            except lmdb.Error:  # the writer has not created its databases yet
                return None
        return env, found

    def close(self) -> None:
        if self._env is not None:
            self._env.close()
            self._env = None
            self._dbs.clear()
