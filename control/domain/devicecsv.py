"""The device file of import and export: CSV with the columns ``mac, model, name`` and
optionally ``line1`` to ``line6`` (extension numbers), one device a row.

Reading and writing only, no I/O: the service validates the rows against the truth. An
export is read back by an import unchanged (the same columns), and carries no password.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from control.domain.catalog import MAX_LINES
from control.domain.errors import ServiceError

LINE_COLUMNS = tuple(f"line{n}" for n in range(1, MAX_LINES + 1))
COLUMNS = ("mac", "model", "name", *LINE_COLUMNS)
REQUIRED = ("mac", "model")
MAX_CELL = 256  # longer than any field a device has: refused by the row checks, not here


def check_columns(names: Iterable[str]) -> None:
    """A 422 naming each unknown, repeated or missing column."""
    seen: list[str] = list(names)
    errors = {f"columns.{name}": "unknown column" for name in seen if name not in COLUMNS}
    errors.update(
        {f"columns.{name}": "given more than once" for name in seen if seen.count(name) > 1}
    )
    errors.update({f"columns.{name}": "required" for name in REQUIRED if name not in seen})
    if errors:
        raise ServiceError(422, {"body": "bad CSV header", **errors})


def read_rows(text: str) -> list[dict[str, str]]:
    """:func:`_read_rows`, with text the csv module cannot read a 422 (never a 500)."""
    try:
        return _read_rows(text)
    except csv.Error as exc:
        raise ServiceError(422, {"body": f"not CSV: {exc}"}) from None


def _read_rows(text: str) -> list[dict[str, str]]:
    """The rows of a device file as dicts of its columns (cells stripped); a 422 for a bad
    header or a row with more cells than the header. Row 1 is the first after the header;
    blank lines are not rows."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    header = next(reader, None)
    if header is None:
        raise ServiceError(422, {"body": "empty file; the first line names the columns"})
    names = [name.strip().lower() for name in header]
    check_columns(names)
    rows: list[dict[str, str]] = []
    for cells in reader:
        if not any(cell.strip() for cell in cells):
            continue
        number = len(rows) + 1
        if len(cells) > len(names):
            raise ServiceError(
                422, {f"rows[{number}]": f"{len(cells)} cells, {len(names)} columns"}
            )
        rows.append({name: cell.strip() for name, cell in zip(names, cells, strict=False)})
    return rows


def write_rows(devices: Iterable[Any], lines: Mapping[str, Sequence[str]]) -> str:
    """CSV of ``devices`` (rows with mac, model, name) with their extension numbers by MAC."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for device in devices:
        numbers = list(lines.get(str(device["mac"]), ()))
        numbers += [""] * (MAX_LINES - len(numbers))
        writer.writerow([device["mac"], device["model"], device["name"], *numbers])
    return out.getvalue()
