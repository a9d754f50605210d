"""The device list's query: filter, search, sort, keyset cursor; the export shares its filter.

``q`` matches a device when any of these hold:

- its MAC starts with the hex digits of ``q`` (in any notation: ``00:15:65``, ``0015.65``,
  ``00-15-65`` and ``001565`` are the same prefix), a range of the MAC index;
- its name starts with ``q``, ignoring ASCII case: a prefix, not a substring, because a
  range of the ``name COLLATE NOCASE`` index serves a prefix and nothing serves a substring
  short of a trigram table (a scan of a million names for one is 0.4 s with every page
  cached, eight times the page budget);
- its model's id or label contains ``q`` (ignoring case): the catalog is small, so this is
  decided here and the query asks for each such model, a range of the model index.

Each sort key has an index within a tenant and one over all tenants, ending in the MAC
that breaks ties (control/storage/schema.sql), so a page is a range of one index; the
cursor carries the sort, the order and the last row's (key, MAC). ``total`` counts the
same devices without the cursor (:func:`count`). ``last_fetch_at`` and ``provision_count``
sort by copies of the edge state that control/fetchmirror.py refreshes
(docs/architecture.md, "The device list").
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from typing import Any

import orjson

from control.domain.catalog import MODELS
from control.domain.errors import invalid

FILTERS = {
    "all": "",
    "assigned": " AND d.line_count > 0",
    "unassigned": " AND d.line_count = 0",
}
# sort name -> (ORDER BY expression, type of its cursor value)
SORTS: dict[str, tuple[str, type]] = {
    "mac": ("d.mac", str),
    "name": ("d.name COLLATE NOCASE", str),
    "model": ("d.model", str),
    "created_at": ("d.created_at", str),
    "last_fetch_at": ("d.last_fetch_us", int),
    "provision_count": ("d.provision_count", int),
}
ORDERS = ("asc", "desc")
Q_MAX = 64
SPARSE = 5000  # a part of at most this many devices is found by its own index, then sorted
_SEPARATORS = re.compile(r"[\s:.\-]")
_HEX = re.compile(r"[0-9a-f]{1,12}")
_TOP = "\U0010ffff"  # sorts after every character, in BINARY and NOCASE alike


@dataclass(slots=True)
class Where:
    """A WHERE clause over ``devices d`` and its parameters."""

    text: str = "1"
    params: list[Any] = field(default_factory=list)

    def add(self, text: str, *params: Any) -> None:
        self.text += text
        self.params.extend(params)


def check(which: str, sort: str = "mac", order: str = "asc") -> None:
    if which not in FILTERS:
        raise invalid("filter", f"one of {', '.join(FILTERS)}")
    if sort not in SORTS:
        raise invalid("sort", f"one of {', '.join(SORTS)}")
    if order not in ORDERS:
        raise invalid("order", f"one of {', '.join(ORDERS)}")


def mac_prefix(q: str) -> str | None:
    """The hex digits of ``q`` when it could be (the start of) a MAC, else None."""
    digits = _SEPARATORS.sub("", q).lower()
    return digits if _HEX.fullmatch(digits) else None


def matching_models(q: str) -> list[str]:
    folded = q.lower()
    return [m for m, model in MODELS.items() if folded in m or folded in model.label.lower()]


@dataclass(frozen=True, slots=True)
class Term:
    """One way ``q`` can match: SQL over ``devices d`` where ``{d}`` stands for ``d.``, or
    ``+d.`` to keep SQLite from searching by it (then it is only checked)."""

    column: str  # the sort key whose index orders its matches
    text: str
    params: tuple[Any, ...]

    def sql(self, indexed: bool = True) -> str:
        return self.text.replace("{d}", "d." if indexed else "+d.")


def terms(q: str) -> list[Term]:
    """The ways ``q`` can match: the MAC prefix, the models, the name prefix, in that
    order (the order of the parts of :func:`count`)."""
    q = q.strip()
    if not q:
        return []
    if len(q) > Q_MAX:
        raise invalid("q", f"at most {Q_MAX} characters")
    found: list[Term] = []
    prefix = mac_prefix(q)
    if prefix is not None:  # 'g' sorts after every hex digit
        found.append(Term("mac", "({d}mac >= ? AND {d}mac < ?)", (prefix, prefix + "g")))
    # one term per model: within one model the model index is in MAC order
    found += [Term("model", "{d}model = ?", (model,)) for model in matching_models(q)]
    found.append(
        Term("name", "({d}name >= ? COLLATE NOCASE AND {d}name < ? COLLATE NOCASE)", (q, q + _TOP))
    )
    return found


def _scope(tenant_id: int | None, which: str, filter_indexed: bool = True) -> Where:
    found = Where()
    if tenant_id is not None:
        found.add(" AND d.tenant_id = ?", tenant_id)
    # ``+d.line_count``: checked, never the index to search (a part's own is better)
    found.add(FILTERS[which] if filter_indexed else FILTERS[which].replace(" d.", " +d."))
    return found


def where(tenant_id: int | None, which: str, q: str) -> Where:
    """The devices of ``tenant_id`` (None: all) under the filter ``which`` matching ``q``."""
    found = _scope(tenant_id, which)
    matches = terms(q)
    if matches:
        found.add(
            f" AND ({' OR '.join(t.sql() for t in matches)})",
            *[param for t in matches for param in t.params],
        )
    return found


def _part(
    tenant_id: int | None, which: str, matches: list[Term], index: int, indexed: bool = True
) -> Where:
    """The devices that match ``matches[index]`` and none before it: the parts are disjoint."""
    part = _scope(tenant_id, which, filter_indexed=False)
    part.add(f" AND {matches[index].sql(indexed)}", *matches[index].params)
    for earlier in matches[:index]:
        part.add(f" AND NOT {earlier.sql(False)}", *earlier.params)
    return part


# The total of a filter without ``q``, from the counts the triggers keep
_COUNTED = {"all": "devices", "assigned": "assigned", "unassigned": "devices - assigned"}


def count(tenant_id: int | None, which: str, q: str) -> Where:
    """A SELECT of one row: how many devices each disjoint part of :func:`where` holds,
    the MAC prefix, then each model outside it, then the names outside those (without
    ``q``: one column, from ``device_counts``). Each part is a range of one index that
    holds every column its checks read (the MAC ends every index, the name index holds
    the model, each holds line_count), so a count never reads the table; SQLite's plan
    for the OR as a whole would scan the tenant."""
    matches = terms(q)
    if not matches:
        return Where(
            f"SELECT coalesce(sum({_COUNTED[which]}), 0) FROM device_counts"
            " WHERE ? IS NULL OR tenant_id = ?",
            [tenant_id, tenant_id],
        )
    parts = [_part(tenant_id, which, matches, i) for i in range(len(matches))]
    return Where(
        "SELECT " + ", ".join(f"(SELECT count(*) FROM devices d WHERE {p.text})" for p in parts),
        [param for p in parts for param in p.params],
    )


def page(
    select: str,
    tenant_id: int | None,
    which: str,
    q: str,
    sort: str,
    order: str,
    after: tuple[Any, str] | None,
    counts: list[int],
    limit: int,
) -> Where:
    """``select`` (over ``devices d``) of one page: at most ``limit`` rows beyond
    ``after`` in the sort order. With ``q``, each non-empty part of :func:`count` gives
    its own first ``limit`` rows and the page is the first ``limit`` of those: a part
    whose own index is in the sort's order by that index; otherwise a part of few devices
    (``counts``) by its own index then sorted, a larger one by walking the sort's index
    and checking each row (dense enough that a page is found soon, unless its matches
    cluster far along the sort's order). SQLite, not knowing which, would pick the first
    for all of an OR."""
    matches = terms(q)
    ordering = order_by(sort, order)
    if not matches:
        found = _scope(tenant_id, which)
        _add_after(found, sort, order, after)
        found.add(f" ORDER BY {ordering} LIMIT ?", limit)
        return Where(f"{select} WHERE {found.text}", found.params)
    members: list[str] = []
    params: list[Any] = []
    for i, size in enumerate(counts):
        if not size:
            continue
        indexed = size <= SPARSE or _in_order(matches[i], sort)
        part = _part(tenant_id, which, matches, i, indexed)
        _add_after(part, sort, order, after)
        members.append(
            f"SELECT * FROM (SELECT d.rowid FROM devices d WHERE {part.text}"
            f" ORDER BY {ordering} LIMIT ?)"
        )
        params += [*part.params, limit]
    if not members:
        return Where(f"{select} WHERE 0", [])
    union = " UNION ALL ".join(members)
    return Where(
        f"{select} WHERE d.rowid IN ({union}) ORDER BY {ordering} LIMIT ?", [*params, limit]
    )


def _in_order(term: Term, sort: str) -> bool:
    """Whether the term's own index yields its matches in the sort's order: a prefix of
    the sort key itself, or one model (its index goes on by MAC)."""
    return term.column == sort or (term.column == "model" and sort == "mac")


def order_by(sort: str, order: str) -> str:
    column, _ = SORTS[sort]
    direction = "DESC" if order == "desc" else "ASC"
    if sort == "mac":
        return f"d.mac {direction}"
    return f"{column} {direction}, d.mac {direction}"


def _add_after(found: Where, sort: str, order: str, after: tuple[Any, str] | None) -> None:
    """Only the rows beyond the cursor's (key, MAC) in the page's order."""
    if after is None:
        return
    column, _ = SORTS[sort]
    beyond = "<" if order == "desc" else ">"
    if sort == "mac":
        found.add(f" AND d.mac {beyond} ?", after[1])
    else:
        found.add(f" AND ({column}, d.mac) {beyond} (?, ?)", *after)


def sort_value(sort: str, row: Any) -> Any:
    """The cursor value of a row (its column, as the index holds it)."""
    column = SORTS[sort][0].split()[0].removeprefix("d.")
    return row[column]


def encode_cursor(sort: str, order: str, value: Any, mac: str) -> str:
    raw = orjson.dumps([sort, order, value, mac])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str, order: str) -> tuple[Any, str]:
    """``(value, mac)`` of a cursor made for the same sort and order; a 422 on ``cursor``."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        made_sort, made_order, value, mac = orjson.loads(raw)
    except (ValueError, TypeError):
        raise invalid("cursor", "not a cursor this API gave") from None
    if (made_sort, made_order) != (sort, order):
        raise invalid("cursor", "made for another sort or order; start again without it")
    kind = SORTS[sort][1]
    if (
        not isinstance(mac, str)
        or not re.fullmatch(r"[0-9a-f]{12}", mac)
        or type(value) is not kind
    ):
        raise invalid("cursor", "not a cursor this API gave")
    return value, mac
