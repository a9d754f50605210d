"""CSV files of rows under a header naming the columns: the shape of every import and
export (devices, accounts). Reading and writing only; each file's module says which
columns it has and what a cell means.

A header names each column once, in any order and any case; a column the file does not
know, a repeated one or a missing required one is a 422 naming it. Row 1 is the first
after the header; blank lines are not rows; cells are stripped. Text the csv module cannot
read is a 422, never a 500.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from control.domain.errors import ServiceError


def check_columns(names: Sequence[str], known: Sequence[str], required: Iterable[str]) -> None:
    """A 422 naming each unknown, repeated or missing column."""
    errors = {f"columns.{name}": "unknown column" for name in names if name not in known}
    errors.update(
        {f"columns.{name}": "given more than once" for name in names if names.count(name) > 1}
    )
    errors.update({f"columns.{name}": "required" for name in required if name not in names})
    if errors:
        raise ServiceError(422, {"body": "bad CSV header", **errors})


def read_table(text: str, known: Sequence[str], required: Iterable[str]) -> list[dict[str, str]]:
    """The rows of ``text`` as dicts of the columns its header names."""
    try:
        return _read(text, known, required)
    except csv.Error as exc:
        raise ServiceError(422, {"body": f"not CSV: {exc}"}) from None


def _read(text: str, known: Sequence[str], required: Iterable[str]) -> list[dict[str, str]]:
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    header = next(reader, None)
    if header is None:
        raise ServiceError(422, {"body": "empty file; the first line names the columns"})
    names = [name.strip().lower() for name in header]
    check_columns(names, known, required)
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


def write_table(columns: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """CSV text: the header, then each row's cells in ``columns`` order."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return out.getvalue()
