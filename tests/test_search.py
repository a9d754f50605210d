"""Account search: Lucene queries over 100,000 generated accounts, each answer checked
against a plain Python filter of the same rows (its own reading of the rules in
control/search.py), paging with a stable cursor, and the refusals."""

from __future__ import annotations

import fnmatch
import random
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from luqum import tree
from luqum.parser import parser

from control.api.schemas import TenantIn
from control.domain.errors import ServiceError
from control.service import Control
from control.wiring import build_control
from tests.test_service import EDGE

COUNT = 100_000
FIRST = ["Alice", "Alicia", "Bob", "Carol", "Dave", "Eve", "Mallory", "alison", "Zoë"]
LAST = ["Smith", "Brown", "Alison", "Jones", "O'Neil", "Lab"]
DOMAINS = ["example.org", "example.com", "corp.example.org", "lab.net"]
DESCRIPTIONS = ["lab phone", "phone in the lab", "front desk phone", "Lab Phone 2", "",
                "conference room", "spare lab phone", "desk_phone 100"]  # fmt: skip
TEXT = {
    "owner": ("owner",),
    "username": ("username",),
    "callerid": ("caller_id_name", "caller_id_number"),
    "email": ("email",),
    "description": ("description",),
}
ALL_TEXT = ("owner", "username", "caller_id_name", "caller_id_number", "email", "description")


def _rows() -> list[dict[str, Any]]:
    rng = random.Random(13)
    rows = []
    for i in range(COUNT):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        owner = f"{first} {last}" if i % 7 else ""
        rows.append(
            {
                "id": i + 1,
                "username": str(100_000 + i) if i % 10 else f"desk{i:05d}",
                "owner": owner,
                "email": f"{first.lower()}.{i % 97}@{rng.choice(DOMAINS)}" if i % 5 else "",
                "description": rng.choice(DESCRIPTIONS),
                "caller_id_name": owner if i % 3 else "",
                "caller_id_number": f"+1555{i:07d}" if i % 4 else "",
                "expires": rng.choice([60, 360, 600, 3600]),
            }
        )
    return rows


@pytest.fixture(scope="module")
def searched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Control, int, list]]:
    ctl = build_control(tmp_path_factory.mktemp("search"), EDGE)
    tenant = ctl.create_tenant(TenantIn(name="s", realm="s.example", sip_server="pbx.s.example"))
    rows = _rows()
    columns = [c for c in rows[0] if not c.startswith("_")]
    with ctl.db.transaction() as conn:  # through SQL, for speed: the triggers index them
        conn.executemany(
            f"INSERT INTO accounts (tenant_id, realm, password, {', '.join(columns)})"
            f" VALUES (?, 's.example', 'password-1', {', '.join('?' * len(columns))})",
            [(tenant["id"], *(row[c] for c in columns)) for row in rows],
        )
    for row in rows:  # what the plain filter reads, computed once
        row["_lower"] = {c: row[c].lower() for c in ALL_TEXT}
        row["_words"] = {c: _words(row[c]) for c in ALL_TEXT}
    yield ctl, int(tenant["id"]), rows
    ctl.close()


# ---- the brute-force reading of a query ------------------------------------------------------
def _words(text: str) -> list[str]:
    return re.findall(r"[^\W_]+", text.lower())


def _has_words(have: list[str], text: str) -> bool:
    want = _words(text)
    return bool(want) and any(
        have[i : i + len(want)] == want for i in range(len(have) - len(want) + 1)
    )


def _columns(name: str | None) -> tuple[str, ...]:
    return ALL_TEXT if name is None else TEXT.get(name, (name,))


Pred = Callable[[dict[str, Any]], bool]


def _term(name: str | None, node: tree.Term) -> Pred:
    raw = node.value[1:-1] if isinstance(node, tree.Phrase) else node.value
    columns = _columns(name)
    if isinstance(node, tree.Word) and ("*" in raw or "?" in raw):
        if raw.strip("*") == "":
            return (lambda r: any(str(r[c]) != "" for c in columns)) if name else lambda r: True
        return lambda r: any(fnmatch.fnmatchcase(r["_lower"][c], raw.lower()) for c in columns)
    if name in ("id", "expires"):
        return lambda r: r[name] == int(raw)
    return lambda r: any(_has_words(r["_words"][c], raw) for c in columns)


def _range(name: str, node: tree.Range) -> Pred:
    def key(value: Any) -> Any:
        return value if name in ("id", "expires") else str(value).lower()

    low, high = node.low.value, node.high.value
    lo = None if low == "*" else key(int(low) if name in ("id", "expires") else low)
    hi = None if high == "*" else key(int(high) if name in ("id", "expires") else high)

    def ok(value: Any) -> bool:
        v = key(value)
        if lo is not None and (v < lo or (v == lo and not node.include_low)):
            return False
        return not (hi is not None and (v > hi or (v == hi and not node.include_high)))

    return lambda r: any(ok(r[c]) for c in _columns(name))


def _pred(node: tree.Item, name: str | None = None) -> Pred:
    if isinstance(node, tree.SearchField):
        return _pred(node.expr, node.name)
    if isinstance(node, (tree.Group, tree.FieldGroup, tree.Plus)):
        return _pred(node.children[0], name)
    if isinstance(node, (tree.Word, tree.Phrase)):
        return _term(name, node)
    if isinstance(node, tree.Range):
        return _range(name or "", node)
    if isinstance(node, (tree.Not, tree.Prohibit)):
        inner = _pred(node.a, name)
        return lambda r: not inner(r)
    parts = [_pred(c, name) for c in node.children]
    if isinstance(node, tree.AndOperation):
        return lambda r: all(p(r) for p in parts)
    if isinstance(node, tree.OrOperation):
        return lambda r: any(p(r) for p in parts)
    assert isinstance(node, tree.UnknownOperation)
    kinds = [type(c) for c in node.children]
    must = [
        p for p, k in zip(parts, kinds, strict=True) if k in (tree.Plus, tree.Not, tree.Prohibit)
    ]
    should = [
        p
        for p, k in zip(parts, kinds, strict=True)
        if k not in (tree.Plus, tree.Not, tree.Prohibit)
    ]
    return lambda r: all(p(r) for p in must) and (not should or any(p(r) for p in should))


QUERIES = [
    "owner:alice*",
    "owner:Alice",
    "owner:ALISON",
    "owner:ali*",
    "owner:?lice*",
    "owner:*son",
    "email:*example.org",
    "email:*@lab.net",
    "email:bob*",
    'description:"lab phone"',
    'description:"LAB phone"',
    'description:"lab phone" AND NOT email:*example.org',
    'description:"phone in the lab" OR description:"front desk"',
    "username:[100000 TO 100999]",
    "username:{100000 TO 100999}",
    "username:[199990 TO *]",
    "username:desk*",
    "username:desk0000?",
    "expires:[300 TO 700]",
    "expires:{60 TO 3600}",
    "expires:60",
    "id:[1 TO 20] AND owner:*",
    "alice",
    "lab",
    '"lab phone"',
    "alice OR carol",
    "alice bob",
    "+alice -smith",
    "alice AND NOT smith",
    "-owner:* AND description:desk",
    "(owner:alice OR owner:bob) AND (description:lab OR email:*lab.net)",
    "owner:(alice OR eve) AND expires:3600",
    "callerid:alicia",
    "callerid:*555000001?",
    "callerid:*0001",
    "NOT lab",
    "zoë",
    "o'neil",
    "email:alice.1@example.org",
    "desk_phone",
    "*",
    "owner:* AND NOT callerid:*",
    "owner:ALI*",  # a prefix: a B-tree range, case-insensitive as LIKE
    "owner:a* AND -owner:*son",  # a wildcard under NOT: tested on the row
]


def _search(ctl: Control, tenant: int, q: str, **kw: Any) -> dict[str, Any]:
    return ctl.list_accounts(tenant, q=q, **kw)


@pytest.mark.parametrize("q", QUERIES)
def test_a_query_finds_what_a_plain_filter_finds(searched: tuple, q: str) -> None:
    ctl, tenant, rows = searched
    keep = _pred(parser.parse(q))
    expected = sorted((r for r in rows if keep(r)), key=lambda r: (r["username"].lower(), r["id"]))
    assert 0 < len(expected) < COUNT or q in ("*", "NOT lab"), (q, len(expected))
    page = _search(ctl, tenant, q, limit=50)
    assert page["total"] == len(expected), q
    assert [a["username"] for a in page["items"]] == [r["username"] for r in expected[:50]], q
    assert (page["next_cursor"] is None) == (len(expected) <= 50)


@pytest.mark.parametrize("sort, order", [("owner", "desc"), ("expires", "asc"), ("id", "desc")])
def test_cursor_paging_walks_every_match_once_in_order(
    searched: tuple, sort: str, order: str
) -> None:
    ctl, tenant, rows = searched
    q = "owner:alice* AND expires:[60 TO 360]"
    keep = _pred(parser.parse(q))

    def key(r: dict[str, Any]) -> Any:
        v = r[sort]
        return (v.lower() if isinstance(v, str) else v, r["id"])

    expected = sorted((r for r in rows if keep(r)), key=key, reverse=order == "desc")
    seen: list[int] = []
    cursor = None
    while True:
        page = _search(ctl, tenant, q, sort=sort, order=order, limit=700, cursor=cursor)
        assert page["total"] == len(expected)
        seen += [a["id"] for a in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [r["id"] for r in expected]


def test_a_query_is_run_by_indexes(searched: tuple) -> None:
    """The plan of a term reads the FTS table, of a range the B-tree index, never the
    whole accounts table in Python."""
    ctl, _, _ = searched
    from control import search

    for q, used in [("owner:alice", "accounts_words"), ("email:*lab.net", "accounts_grams"),
                    ("username:[100000 TO 100999]", "accounts_by_username"),
                    ("owner:alice*", "accounts_by_owner")]:  # fmt: skip
        where = search.translate(q)
        plan = ctl.db.query(
            f"EXPLAIN QUERY PLAN SELECT a.id FROM accounts a WHERE a.tenant_id = 1 AND {where.text}",
            where.params,
        )
        assert any(used in str(row["detail"]) for row in plan), (q, [dict(r) for r in plan])


@pytest.mark.parametrize(
    "q, where",
    [("owner:(alice", "end"), ("owner:alice AND", "end"), ('"lab phone', "position"),
     ("nosuch:x", "position 0"), ("alice AND OR bob", "position"), ("owner:alice~2", "position"),
     ("alice^2", "position"), ("expires:abc", "position 8"), ("[a TO b]", "position")],
)  # fmt: skip
def test_a_malformed_query_is_a_400_saying_where(searched: tuple, q: str, where: str) -> None:
    ctl, tenant, _ = searched
    with pytest.raises(ServiceError) as caught:
        _search(ctl, tenant, q)
    assert caught.value.status == 400 and set(caught.value.errors) == {"q"}
    assert where in caught.value.errors["q"], caught.value.errors


def test_a_bad_sort_or_cursor_is_a_422(searched: tuple) -> None:
    ctl, tenant, _ = searched
    with pytest.raises(ServiceError) as caught:
        _search(ctl, tenant, "", sort="password")
    assert caught.value.status == 422 and set(caught.value.errors) == {"sort"}
    cursor = _search(ctl, tenant, "", limit=1)["next_cursor"]
    for bad in ("junk!", cursor + "x"):
        with pytest.raises(ServiceError) as caught:
            _search(ctl, tenant, "", cursor=bad, order="desc")
        assert caught.value.status == 422 and set(caught.value.errors) == {"cursor"}


def test_the_index_follows_edits_and_deletes(tmp_path: Path) -> None:
    ctl = build_control(tmp_path, EDGE)
    try:
        from control.api.schemas import AccountIn, AccountPatch

        tenant = ctl.create_tenant(TenantIn(name="e", realm="e.example", sip_server="p.e.example"))
        made = ctl.create_account(AccountIn(tenant=tenant["id"], owner="Alice Smith"))
        assert ctl.list_accounts(tenant["id"], q="owner:alice")["total"] == 1
        ctl.update_account(made["id"], AccountPatch(owner="Bob Jones"))
        assert ctl.list_accounts(tenant["id"], q="owner:alice")["total"] == 0
        assert ctl.list_accounts(tenant["id"], q="owner:jo*")["total"] == 0  # whole value
        assert ctl.list_accounts(tenant["id"], q="owner:bob*")["total"] == 1
        ctl.delete_account(made["id"])
        assert ctl.list_accounts(tenant["id"], q="bob")["total"] == 0
    finally:
        ctl.close()
