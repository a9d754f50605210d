"""The account file of a CSV batch and of an export: one SIP device account a row, under
a header naming any of :data:`COLUMNS`, in any order; every column is optional.

A cell means what the JSON field of the same name means (docs/accounts.md); an empty cell
is the field left out (its default, or a generated username/password). Two fields are
lists, written in one cell each:

- ``outbound_flags``: tokens separated by spaces, e.g. ``intl premium``;
- ``access_rules``: rules separated by ``;``, each ``ACTION NETWORK``, e.g.
  ``deny 0.0.0.0/0.0.0.0; permit 216.27.242.66/32``.

An export carries no password (reveal one on purpose: ``reveal-password``); the result of
a batch carries the passwords it made, once, as :data:`CREATED_COLUMNS`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from control.domain.csvtable import read_table, write_table

COLUMNS = (
    "username",
    "password",
    "realm",
    "display_name",
    "auth_method",
    "ip",
    "invite_format",
    "expires",
    "outbound_flags",
    "caller_id_name",
    "caller_id_number",
    "owner",
    "email",
    "description",
    "secondary_number",
    "enabled",
    "access_rules",
)
EXPORT_COLUMNS = tuple(name for name in COLUMNS if name != "password")
CREATED_COLUMNS = ("id", "username", "password", "realm")


def read_rows(text: str) -> list[dict[str, str]]:
    """The rows of an account file (control/domain/csvtable.py), cells as text."""
    return read_table(text, COLUMNS, ())


def _rules(cell: str) -> list[dict[str, str]]:
    """``deny 0.0.0.0/0; permit 10.0.0.1/32`` as rules, for the field check to judge (a
    bad action or network is named there by the rule's index, never dropped here)."""
    rules: list[dict[str, str]] = []
    for entry in cell.split(";"):
        words = entry.split()
        if not words:
            continue
        rules.append({"action": words[0].lower(), "network": " ".join(words[1:])})
    return rules


def body_of(row: Mapping[str, str]) -> dict[str, Any]:
    """A row as the JSON fields of an account; an empty cell is a field left out."""
    body: dict[str, Any] = {}
    for name, cell in row.items():
        if cell == "":
            continue
        if name == "outbound_flags":
            body[name] = cell.split()
        elif name == "access_rules":
            body[name] = _rules(cell)
        else:
            body[name] = cell
    return body


def _cell(name: str, value: Any) -> str:
    if name == "outbound_flags":
        return " ".join(value)
    if name == "access_rules":
        return "; ".join(f"{rule['action']} {rule['network']}" for rule in value)
    if name == "enabled":
        return "true" if value else "false"
    return "" if value is None else str(value)


def write_accounts(accounts: Iterable[Mapping[str, Any]]) -> str:
    """CSV of account views (the API's fields), without passwords; read back by a batch."""
    return write_table(EXPORT_COLUMNS, ([_cell(n, a[n]) for n in EXPORT_COLUMNS] for a in accounts))


def write_created(rows: Iterable[Mapping[str, Any]]) -> str:
    """CSV of a batch's result: each account made, with its password."""
    return write_table(CREATED_COLUMNS, ([r[n] for n in CREATED_COLUMNS] for r in rows))
