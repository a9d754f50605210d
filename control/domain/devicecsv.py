"""The device file of import and export: CSV with the columns ``mac, model, name`` and
optionally ``line1`` to ``line6`` (extension numbers) and ``blf`` (the BLF keys in order,
``1002:Bob;1003`` — an extension number, and after a colon the label it shows), one
device a row.

Reading and writing only, no I/O: the service validates the rows against the truth. An
export is read back by an import unchanged (the same columns), and carries no password.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from control.domain.catalog import MAX_LINES
from control.domain.csvtable import read_table, write_table

LINE_COLUMNS = tuple(f"line{n}" for n in range(1, MAX_LINES + 1))
COLUMNS = ("mac", "model", "name", *LINE_COLUMNS, "blf")
REQUIRED = ("mac", "model")
MAX_CELL = 256  # longer than any field a device has: refused by the row checks, not here


def read_rows(text: str) -> list[dict[str, str]]:
    """The rows of a device file (control/domain/csvtable.py)."""
    return read_table(text, COLUMNS, REQUIRED)


def parse_keys(text: str) -> list[tuple[str, str]]:
    """``1002:Bob;1003`` as ``[("1002", "Bob"), ("1003", "")]``."""
    found = []
    for entry in text.split(";"):
        number, _, label = entry.strip().partition(":")
        if number.strip() or label.strip():
            found.append((number.strip(), label.strip()))
    return found


def format_keys(keys: Iterable[tuple[str, str]]) -> str:
    return ";".join(f"{number}:{label}" if label else number for number, label in keys)


def write_rows(
    devices: Iterable[Any], lines: Mapping[str, Sequence[str]],
    keys: Mapping[str, Sequence[tuple[str, str]]] | None = None,
) -> str:  # fmt: skip
    """CSV of ``devices`` (rows with mac, model, name) with their extension numbers and
    BLF keys by MAC."""

    def cells(device: Any) -> list[str]:
        numbers = list(lines.get(str(device["mac"]), ()))
        numbers += [""] * (MAX_LINES - len(numbers))
        blf = format_keys((keys or {}).get(str(device["mac"]), ()))
        return [device["mac"], device["model"], device["name"], *numbers, blf]

    return write_table(COLUMNS, map(cells, devices))
