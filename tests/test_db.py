"""SQLite access: readers never wait for the writer (WAL)."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from control.api.schemas import TenantIn
from control.wiring import build_control
from tests.test_service import EDGE


def test_a_read_does_not_wait_for_a_long_write(tmp_path: Path) -> None:
    ctl = build_control(tmp_path, EDGE)
    tenant = ctl.create_tenant(TenantIn(name="t", realm="t.example", sip_server="pbx.t.example"))
    holding, release = threading.Event(), threading.Event()

    def long_write() -> None:
        with ctl.db.transaction() as conn:
            conn.execute("UPDATE tenants SET language = 'German'")
            holding.set()
            release.wait(30)

    writer = threading.Thread(target=long_write)
    writer.start()
    assert holding.wait(10)
    seen: dict[str, Any] = {}
    reader = threading.Thread(target=lambda: seen.update(ctl.get_tenant(tenant["id"])))
    reader.start()
    reader.join(10)  # a liveness bound, not a speed figure: a waiting reader never returns
    finished_during_write = not reader.is_alive()
    release.set()
    writer.join()
    reader.join()
    ctl.close()
    assert finished_during_write
    assert seen["language"] == "English"  # the last committed state, not the open write


def test_a_reader_connection_refuses_writes(tmp_path: Path) -> None:
    ctl = build_control(tmp_path, EDGE)
    try:
        with ctl.db.read() as conn, pytest.raises(sqlite3.OperationalError, match="readonly"):
            conn.execute("DELETE FROM tenants")
    finally:
        ctl.close()
