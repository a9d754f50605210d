"""`pip install .` builds both Cython extensions and ships what the control plane reads."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_has_both_extensions_templates_and_schema(tmp_path: Path) -> None:
    source = tmp_path / "src"
    # Build from a copy of the tracked tree, as a fresh clone would be.
    files = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    for name in files:
        if name.startswith("tests/"):
            continue
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, source / name)
    # --no-build-isolation: the test venv already has setuptools and Cython; no network.
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(tmp_path / "dist"), str(source)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr[-3000:]
    wheel = next((tmp_path / "dist").glob("provedge-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for module in ("_sipparse", "_fastrender"):
        assert any(n.startswith(f"edge/{module}.") and n.endswith(".so") for n in names), module
    assert "control/storage/schema.sql" in names
    # The SIP parser's sources as split by topic, and its twin's package (docs/sipparse.md).
    in_tree = {n for n in files if n.startswith("edge/_sipparse")}
    assert in_tree <= set(names), in_tree - set(names)
    assert any(n.endswith(".pxi") for n in in_tree) and "edge/_sipparse_py/uri.py" in in_tree
    shipped = {n for n in names if n.startswith("templates/")}
    in_tree = {n for n in files if n.startswith("templates/")}
    assert shipped == in_tree
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "provedge = provedge.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
