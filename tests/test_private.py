"""The data directory holds every password: 0700 directories, 0600 files, whatever the umask."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from provedge.private import private_dir, private_file

# Loads the demo through the same code `provedge run` uses, under the given umask, writes
# once more, and reports every path's mode while the connections are open (SQLite removes
# its -wal and -shm files when the last one closes).
_PREPARE = """
import json, os, stat, sys
os.umask(int(sys.argv[2], 8))
from provedge.cli import prepare_data
prepare_data(sys.argv[1], "http://127.0.0.1:8081")
from control.wiring import build_control
ctl = build_control(sys.argv[1], "http://127.0.0.1:8081")
with ctl.db.transaction() as conn:
    conn.execute("UPDATE tenants SET language = language")
modes = {}
for root, dirs, files in os.walk(sys.argv[1]):
    for name in [".", *dirs, *files]:
        path = os.path.normpath(os.path.join(root, name))
        modes[os.path.relpath(path, sys.argv[1])] = stat.S_IMODE(os.stat(path).st_mode)
print(json.dumps(modes))
"""


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("umask", ["000", "022"])
def test_data_directory_is_owner_only_whatever_the_umask(tmp_path: Path, umask: str) -> None:
    data = tmp_path / "data"
    out = subprocess.run(
        [sys.executable, "-c", _PREPARE, str(data), umask],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    modes: dict[str, int] = json.loads(out.stdout)
    assert set(modes) >= {
        ".", "lmdb", "provedge.sqlite3", "provedge.sqlite3-wal", "provedge.sqlite3-shm",
        "lmdb/data.mdb", "lmdb/lock.mdb", "operator-token",
    }  # fmt: skip
    wrong = {
        path: oct(mode)
        for path, mode in modes.items()
        if mode != (0o700 if (data / path).is_dir() else 0o600)
    }
    assert wrong == {}


def test_existing_paths_are_tightened(tmp_path: Path) -> None:
    loose_dir = tmp_path / "loose"
    loose_dir.mkdir(mode=0o755)
    loose_file = loose_dir / "f"
    loose_file.write_text("secret")
    loose_file.chmod(0o644)
    private_dir(loose_dir)
    private_file(loose_file)
    assert (_mode(loose_dir), _mode(loose_file)) == (0o700, 0o600)
    assert loose_file.read_text() == "secret"  # tightening never truncates
