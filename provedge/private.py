"""The data directory holds every SIP and admin password: only its owner may read it.

Directories are 0700 and files 0600 whatever the process umask, and modes are fixed on
existing paths too, so a data directory made by an older version is tightened at start.
Both sides use it (control's SQLite, the LMDB environments), so it imports neither.
"""

from __future__ import annotations

import os
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: str | Path) -> Path:
    """Create ``path`` (and missing parents) owner-only; tighten it if it exists."""
    directory = Path(path)
    directory.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    os.chmod(directory, DIR_MODE)  # mkdir's mode is masked by the umask; chmod is not
    return directory


def private_file(path: str | Path) -> Path:
    """Create ``path`` empty if missing, owner-only either way, before a library opens it.

    SQLite gives its -wal and -shm files the mode of the database file, and LMDB its
    lock file the mode it is asked for, so setting the main file's mode first is enough.
    """
    file = Path(path)
    fd = os.open(file, os.O_CREAT | os.O_RDWR, FILE_MODE)
    os.close(fd)
    os.chmod(file, FILE_MODE)
    return file


def tighten_files(directory: str | Path) -> None:
    """Owner-only modes for every file already in ``directory`` (not recursive)."""
    for entry in Path(directory).iterdir():
        if entry.is_file():
            os.chmod(entry, FILE_MODE)
