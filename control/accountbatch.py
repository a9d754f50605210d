"""Many SIP device accounts in one all-or-nothing write: the rows of a pattern batch or of
a CSV file (control/domain/accountcsv.py), for the API, the console and the CLI alike.

Every row is checked before anything is written: its fields as the create body checks
them, its username against the other rows and against the tenant. With any bad row the
answer is a 422 naming each (the first 100) as ``rows[N].field``, row 1 being the first,
and nothing is written. A dry run checks the same and writes nothing.

The rows are inserted in one transaction with ``executemany``. Their registrar records
are published by the caller's step when few, or by a ``recompile`` job of the tenant when
more than one publishing batch (or always, for the CLI, which has no publisher of its
own: the running control plane runs the job).
"""

from __future__ import annotations

import re
import secrets
import sqlite3
from collections.abc import Callable, Container, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import ValidationError

from control import search
from control.api.bodies import adapter
from control.api.schemas import USERNAME, AccountIn
from control.domain.errors import ServiceError
from control.domain.passwords import new_password
from control.jobs import store as jobs
from control.jobs.kinds import RECOMPILE
from control.publish import pending
from control.storage import bulk
from control.storage.db import Database
from control.storage.tenants import find_tenant

USERNAME_RE = re.compile(USERNAME)
MAX_ERRORS = 100  # a file of 100,000 bad rows answers with the first 100 of them

# What a new account has when its body leaves a field out.
ACCOUNT_DEFAULTS: dict[str, Any] = {
    "display_name": "",
    "auth_method": "password",
    "invite_format": "username",
    "expires": 360,
    "outbound_flags": [],
    "caller_id_name": "",
    "caller_id_number": "",
    "owner": "",
    "email": "",
    "description": "",
    "secondary_number": "",
    "enabled": True,
    "access_rules": [],
}
_JSON_FIELDS = ("outbound_flags", "access_rules")
# Every column a new row writes, in one order for executemany.
_COLUMNS = (*ACCOUNT_DEFAULTS, "username", "password", "realm", "ip", "tenant_id")
_SEARCH = (("accounts_words", "accounts_grams"), search.TEXT_COLUMNS)  # schema.sql


def account_params(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Field values as SQLite takes them: lists as JSON text."""
    return {
        name: orjson.dumps(value).decode() if name in _JSON_FIELDS else value
        for name, value in fields.items()
    }


def _values(row: Mapping[str, Any]) -> tuple[Any, ...]:
    """A new row's values in :data:`_COLUMNS` order, defaults where it has none."""
    params = account_params({**ACCOUNT_DEFAULTS, **row})
    return tuple(params[name] for name in _COLUMNS)


def first_errors(errors: dict[str, str], limit: int, field: str) -> dict[str, str]:
    """At most ``limit`` errors, and under ``field`` how many there were when more."""
    if len(errors) <= limit:
        return errors
    kept = dict(list(errors.items())[:limit])
    kept[field] = f"{len(errors)} bad rows; the first {limit} are listed"
    return kept


def _field_name(loc: tuple[int | str, ...]) -> str:
    name = ""
    for part in loc:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name


def check_rows(
    bodies: Sequence[Mapping[str, Any]], tenant: int | str, progress: Callable[[int], object]
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Each row's fields as the create body takes them (``tenant`` the batch's), and the
    errors of the bad ones by ``rows[N].field``. ``progress`` hears of each 1,000 rows."""
    checker = adapter(AccountIn)
    good: list[dict[str, Any]] = []
    errors: dict[str, str] = {}
    for number, body in enumerate(bodies, start=1):
        try:
            made = checker.validate_python({**body, "tenant": tenant})
        except ValidationError as exc:
            for err in exc.errors():
                where = _field_name(err["loc"]) or "row"
                errors[f"rows[{number}].{where}"] = err["msg"].removeprefix("Value error, ")
            good.append({})
        else:
            good.append(made.model_dump(exclude_none=True, exclude={"tenant", "activation"}))
        if number % 1000 == 0:
            progress(1000)
    progress(len(bodies) % 1000)
    return good, errors


@dataclass
class Made:
    """A batch's answer, and how its records get published."""

    answer: dict[str, Any]
    accounts: list[int]  # for the caller's publishing step; empty when a job does it
    job: int | None


def _usernames(conn: sqlite3.Connection, tenant_id: int, names: Sequence[str]) -> set[str]:
    taken: set[str] = set()
    for start in range(0, len(names), 500):  # within SQLite's limit of bound parameters
        chunk = names[start : start + 500]
        marks = ", ".join("?" * len(chunk))
        taken.update(
            r[0]
            for r in conn.execute(
                f"SELECT username FROM accounts WHERE tenant_id = ? AND username IN ({marks})",
                [tenant_id, *chunk],
            )
        )
    return taken


def free_username(conn: sqlite3.Connection, tenant_id: int, also: Container[str] = ()) -> str:
    """A username free in the tenant (and not in ``also``): ``u`` and nine random digits."""
    while True:
        candidate = "u" + "".join(secrets.choice("0123456789") for _ in range(9))
        if candidate not in also and not _usernames(conn, tenant_id, [candidate]):
            return candidate


def create(
    db: Database,
    tenant: int | str,
    rows: list[dict[str, Any]],
    errors: dict[str, str],
    scope: int | None = None,
    dry_run: bool = False,
    always_job: bool = False,
) -> Made:
    """Writes ``rows`` (checked fields; ``errors`` those found so far) as new accounts of
    ``tenant``, all or nothing."""
    errors = dict(errors)
    with db.transaction() as conn:
        found = find_tenant(conn, tenant, "tenant", scope)
        tenant_id = int(found["id"])
        first_row: dict[str, int] = {}
        for number, row in enumerate(rows, start=1):
            name = row.get("username")
            if not name:
                continue
            if not USERNAME_RE.match(name):
                errors[f"rows[{number}].username"] = f"{name!r} is not a valid username"
            elif name in first_row:
                errors[f"rows[{number}].username"] = f"{name} is also in row {first_row[name]}"
            else:
                first_row[name] = number
        for name in _usernames(conn, tenant_id, list(first_row)):
            errors.setdefault(f"rows[{first_row[name]}].username", f"{name} exists in the tenant")
        if errors:
            raise ServiceError(422, first_errors(_in_row_order(errors), MAX_ERRORS, "rows"))
        if dry_run:
            listed = [{"id": None, "username": r.get("username"), "password": None} for r in rows]
            return Made(_answer(tenant_id, listed, None, dry_run=True), [], None)
        for row in rows:
            if not row.get("username"):
                row["username"] = free_username(conn, tenant_id, first_row)  # taken: in the file
                first_row[row["username"]] = 0
            row.setdefault("password", new_password())
            row.setdefault("realm", found["realm"])
            row.setdefault("ip", None)
            row["tenant_id"] = tenant_id
        before = bulk.insert_rows(conn, "accounts", _COLUMNS, map(_values, rows), _SEARCH)
        made = [
            dict(r)
            for r in conn.execute(
                "SELECT id, username, password, realm FROM accounts WHERE id > ? ORDER BY id",
                (before,),
            )
        ]
        job_id = None
        if always_job or len(made) > pending.PUBLISH_BATCH:
            job_id = jobs.enqueue(conn, RECOMPILE, tenant_id)
    ids = [] if job_id is not None else [r["id"] for r in made]
    return Made(_answer(tenant_id, made, job_id), ids, job_id)


def _in_row_order(errors: dict[str, str]) -> dict[str, str]:
    def row(key: str) -> int:
        head = key.partition("]")[0].removeprefix("rows[")
        return int(head) if head.isdigit() else 0

    return dict(sorted(errors.items(), key=lambda item: row(item[0])))


def _answer(
    tenant_id: int, items: list[dict[str, Any]], job_id: int | None, dry_run: bool = False
) -> dict[str, Any]:
    return {"tenant": tenant_id, "count": len(items), "dry_run": dry_run, "items": items,
            "job": job_id}  # fmt: skip
