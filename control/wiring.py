"""Builds a ready Control from a data directory: the one place the pieces meet."""

from __future__ import annotations

from pathlib import Path

from control.publish.compiler import Compiler
from control.publish.pending import templates_fingerprint
from control.publish.publisher import LmdbPublisher
from control.service import ACTIVATION_LIFETIME_S, Control
from control.storage.db import Database
from control.storage.edgestate import EdgeStateReader
from provedge.formats import store


def build_control(
    data_dir: str | Path,
    edge_url: str,
    templates_dir: Path | None = None,
    run_jobs: bool = False,
    activation_lifetime_s: float = ACTIVATION_LIFETIME_S,
    edge_ip: str | None = None,
) -> Control:
    """``run_jobs``: start the job runner thread (the control plane server does); tools
    and tests that build a Control run queued jobs with ``ctl.jobs.run_until_idle()``."""
    compiler = Compiler(templates_dir) if templates_dir else Compiler()
    compiler.check_all()
    publisher = LmdbPublisher(store.open_env(data_dir))
    ctl = Control(
        Database(data_dir),
        publisher,
        compiler,
        edge_url,
        EdgeStateReader(data_dir),
        activation_lifetime_s,
        edge_ip,
    )
    # Redo whatever a killed publish left behind, and follow template or URL changes: the
    # small part now, the devices as a job (resumed, like any job left running).
    ctl.reconcile(templates_fingerprint(compiler, edge_url + " " + (edge_ip or "")))
    if run_jobs:
        ctl.jobs.start()
        ctl.reboots.start()
        ctl.fetch_mirror.start()
    return ctl
