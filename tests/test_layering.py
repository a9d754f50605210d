"""The edge imports nothing from control/ (DESIGN.md: data flows control -> LMDB -> edge)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

EDGE = Path(__file__).resolve().parent.parent / "edge"


def test_no_edge_module_imports_control() -> None:
    offenders = []
    for path in sorted(EDGE.rglob("*.py")) + sorted(EDGE.rglob("*.pyx")):
        if path.suffix == ".pyx":
            text = path.read_text()
            if "from control" in text or "import control" in text:
                offenders.append(path.name)
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [
                f"{path.name}: {name}" for name in names if name.split(".")[0] == "control"
            ]
    assert offenders == []


def test_running_edge_loads_no_control_module() -> None:
    code = (
        "import sys, edge.http.server, edge.http.app, edge.http.routing, provedge.formats.store, provedge.formats.macaddr, edge.fastrender;"
        "print(sorted(m for m in sys.modules if m == 'control' or m.startswith('control.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
