"""Lucene query syntax over accounts, translated into SQL over indexed columns.

``q`` is parsed by luqum and each node of its tree becomes a piece of SQL; nothing is
filtered in Python. The meaning of each kind of term (``tests/test_search.py`` checks
it against a plain Python filter of the same rows):

- a word or a quoted phrase matches the words of a text field, in order, case-insensitively:
  words are runs of letters and digits (SQLite FTS5's ``unicode61`` tokenizer, table
  ``accounts_words``), so ``email:bob@example.org`` is the phrase ``bob example org``;
- a term with ``*`` or ``?`` is a wildcard over the whole value of the field
  (``owner:alice*`` is an owner starting with "alice"), served by the ``trigram`` FTS5
  table ``accounts_grams`` through ``LIKE``; ``field:*`` is a non-empty field;
- ``field:[a TO b]`` (``{}`` exclusive, ``*`` open) compares values case-insensitively
  (B-tree indexes ``COLLATE NOCASE``), numerically for numeric fields;
- a bare term searches every text field; ``callerid`` is the caller ID name or number;
- ``AND``, ``OR``, ``NOT``, ``-`` (must not), ``+`` (must) and grouping as in Lucene:
  terms side by side without an operator are optional (any may match) unless ``+``.

A query the grammar refuses, or one using what is not supported here (fuzzy, proximity,
boost, regular expressions, an unknown field), is a :class:`QueryError` saying where.
"""

from __future__ import annotations

import base64
import threading
from dataclasses import dataclass, field
from typing import Any

import orjson
from luqum import tree
from luqum.exceptions import ParseError
from luqum.parser import parser

# The text fields each query field name searches (columns of accounts and of both FTS tables).
TEXT_FIELDS: dict[str, tuple[str, ...]] = {
    "owner": ("owner",),
    "username": ("username",),
    "callerid": ("caller_id_name", "caller_id_number"),
    "caller_id_name": ("caller_id_name",),
    "caller_id_number": ("caller_id_number",),
    "email": ("email",),
    "description": ("description",),
}
TEXT_COLUMNS = ("owner", "username", "caller_id_name", "caller_id_number", "email", "description")
NUMERIC_FIELDS = ("id", "expires")
# Compared as whole values (ranges and terms), case-insensitively.
VALUE_FIELDS = ("created_at",)
FIELDS = (*TEXT_FIELDS, *NUMERIC_FIELDS, *VALUE_FIELDS)
# The columns a page may be sorted by, each with a B-tree index (tenant_id, column, id).
SORT_FIELDS = ("username", "owner", "email", "description", "caller_id_name",
               "caller_id_number", "expires", "created_at", "id")  # fmt: skip
_PARSER_LOCK = threading.Lock()  # luqum's ply parser keeps state between calls


class QueryError(ValueError):
    """A query that cannot be run; the message says where it broke."""


@dataclass
class Sql:
    """A WHERE fragment over ``accounts a`` and its parameters."""

    text: str
    params: list[Any] = field(default_factory=list)


_TRUE, _FALSE = Sql("1"), Sql("0")


def _fts_quote(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _like(pattern: str) -> str:
    """A Lucene wildcard as a LIKE pattern (escape ``\\``)."""
    out = []
    for char in pattern:
        if char == "*":
            out.append("%")
        elif char == "?":
            out.append("_")
        elif char in "%_\\":
            out.append("\\" + char)
        else:
            out.append(char)
    return "".join(out)


def _unescape(value: str) -> str:
    """A Lucene term with its backslash escapes resolved (``\\*`` is a literal star)."""
    out, escaped = [], False
    for char in value:
        if escaped:
            out.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        else:
            out.append(char)
    return "".join(out)


def _has_wildcard(value: str) -> bool:
    escaped = False
    for char in value:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in "*?":
            return True
    return False


def _wildcard_pattern(value: str) -> str:
    """The LIKE pattern of a term with wildcards, escapes kept literal."""
    out, escaped = [], False
    for char in value:
        if escaped:
            out.append(_like(char) if char not in "*?" else char)
            escaped = False
        elif char == "\\":
            escaped = True
        else:
            out.append(_like(char))
    return "".join(out)


def _where(node: tree.Item) -> str:
    pos = getattr(node, "pos", None)
    return f"at position {pos}" if pos is not None else "in the query"


def _any(parts: list[Sql]) -> Sql:
    return Sql("(" + " OR ".join(p.text for p in parts) + ")", [x for p in parts for x in p.params])


def _all(parts: list[Sql]) -> Sql:
    return Sql(
        "(" + " AND ".join(p.text for p in parts) + ")", [x for p in parts for x in p.params]
    )


def _not(part: Sql) -> Sql:
    return Sql(f"(NOT {part.text})", part.params)


def _prefix_range(value: str) -> tuple[str, str] | None:
    """``alice*``: the bounds ``[alice, alicf)`` of the values starting with the prefix,
    as ``COLLATE NOCASE`` compares them (ASCII letters folded, as ``LIKE`` folds them), so
    that the B-tree index of the column serves a prefix; None for any other wildcard."""
    if not value.endswith("*") or value.endswith("\\*") or _has_wildcard(value[:-1]):
        return None
    prefix = _unescape(value[:-1]).lower()
    if not prefix or not prefix.isascii() or prefix[-1] == "\x7f":
        return None
    return prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)


class _Translator:
    """The SQL of a query tree. Under a NOT, a wildcard is tested on the row itself: the
    rows a negation keeps are found by the other terms (or a scan), and building the set
    of every row a broad pattern matches, to exclude it, would cost more than the test."""

    def __init__(self) -> None:
        self.negated = 0

    def term(self, fieldname: str | None, node: tree.Term) -> Sql:
        if isinstance(node, tree.Word) and _has_wildcard(node.value):
            return self.wildcard(fieldname, node.value)
        text = node.value[1:-1] if isinstance(node, tree.Phrase) else _unescape(node.value)
        if fieldname in NUMERIC_FIELDS:
            return Sql(f"a.{fieldname} = ?", [self.number(text, node)])
        if fieldname in VALUE_FIELDS:
            return Sql(f"a.{fieldname} = ? COLLATE NOCASE", [text])
        columns = TEXT_COLUMNS if fieldname is None else TEXT_FIELDS[fieldname]
        if not words(text):
            return _FALSE
        match = "{" + " ".join(columns) + "} : " + _fts_quote(text)
        return Sql(
            "a.id IN (SELECT rowid FROM accounts_words WHERE accounts_words MATCH ?)", [match]
        )

    def wildcard(self, fieldname: str | None, value: str) -> Sql:
        if fieldname in NUMERIC_FIELDS or fieldname in VALUE_FIELDS:
            columns: tuple[str, ...] = (fieldname,)
        else:
            columns = TEXT_COLUMNS if fieldname is None else TEXT_FIELDS[fieldname]
        pattern = _wildcard_pattern(value)
        if pattern.strip("%") == "":  # field:* is a field with a value; * alone is every row
            return _any([Sql(f"a.{c} != ''") for c in columns]) if fieldname else _TRUE
        if fieldname in NUMERIC_FIELDS or fieldname in VALUE_FIELDS:
            return Sql(f"a.{fieldname} LIKE ? ESCAPE '\\'", [pattern])
        bounds = _prefix_range(value)
        if bounds is not None:
            return _any(
                [Sql(f"(a.{c} COLLATE NOCASE >= ? AND a.{c} COLLATE NOCASE < ?)", list(bounds))
                 for c in columns]
            )  # fmt: skip
        if self.negated:
            return _any([Sql(f"a.{c} LIKE ? ESCAPE '\\'", [pattern]) for c in columns])
        likes = " OR ".join(f"{c} LIKE ? ESCAPE '\\'" for c in columns)
        return Sql(
            f"a.id IN (SELECT rowid FROM accounts_grams WHERE {likes})", [pattern] * len(columns)
        )

    @staticmethod
    def number(text: str, node: tree.Item) -> int:
        try:
            return int(text)
        except ValueError:
            raise QueryError(f"{text!r} is not a number {_where(node)}") from None

    def range(self, fieldname: str | None, node: tree.Range) -> Sql:
        if fieldname is None:
            raise QueryError(f"a range needs a field {_where(node)}: field:[a TO b]")
        columns = TEXT_FIELDS.get(fieldname, (fieldname,))
        bounds: list[tuple[str, Any]] = []
        for bound, op in ((node.low, ">=" if node.include_low else ">"),
                          (node.high, "<=" if node.include_high else "<")):  # fmt: skip
            value = bound.value[1:-1] if isinstance(bound, tree.Phrase) else _unescape(bound.value)
            if isinstance(bound, tree.Word) and bound.value == "*":
                continue
            if fieldname in NUMERIC_FIELDS:
                bounds.append((op, self.number(value, bound)))
            else:
                bounds.append((op, value))
        if not bounds:
            return _TRUE
        collate = "" if fieldname in NUMERIC_FIELDS else " COLLATE NOCASE"
        return _any(
            [
                _all([Sql(f"a.{c}{collate} {op} ?", [value]) for op, value in bounds])
                for c in columns
            ]
        )

    def node(self, node: tree.Item, fieldname: str | None) -> Sql:
        if isinstance(node, tree.SearchField):
            if fieldname is not None:
                raise QueryError(f"a field inside field {fieldname!r} {_where(node)}")
            if node.name not in FIELDS:
                raise QueryError(
                    f"unknown field {node.name!r} {_where(node)}; fields: {', '.join(FIELDS)}"
                )
            return self.node(node.expr, node.name)
        if isinstance(node, (tree.Group, tree.FieldGroup)):
            return self.node(node.expr, fieldname)
        if isinstance(node, (tree.Word, tree.Phrase)):
            return self.term(fieldname, node)
        if isinstance(node, tree.Range):
            return self.range(fieldname, node)
        if isinstance(node, tree.AndOperation):
            return _all([self.node(c, fieldname) for c in node.children])
        if isinstance(node, tree.OrOperation):
            return _any([self.node(c, fieldname) for c in node.children])
        if isinstance(node, (tree.Not, tree.Prohibit)):
            return self.negation(node.a, fieldname)
        if isinstance(node, tree.Plus):
            return self.node(node.a, fieldname)
        if isinstance(node, tree.UnknownOperation):
            return self.implicit(node, fieldname)
        kind = type(node).__name__.lower()
        raise QueryError(f"{kind} is not supported {_where(node)}")

    def negation(self, node: tree.Item, fieldname: str | None) -> Sql:
        self.negated += 1
        try:
            return _not(self.node(node, fieldname))
        finally:
            self.negated -= 1

    def implicit(self, node: tree.UnknownOperation, fieldname: str | None) -> Sql:
        """Terms side by side: ``+`` ones must match, ``-``/NOT ones must not, and at
        least one of the rest must (Lucene's default OR)."""
        must, should, must_not = [], [], []
        for child in node.children:
            if isinstance(child, tree.Plus):
                must.append(self.node(child.a, fieldname))
            elif isinstance(child, (tree.Not, tree.Prohibit)):
                must_not.append(self.negation(child.a, fieldname))
            else:
                should.append(self.node(child, fieldname))
        parts = [*must, *must_not]
        if should:
            parts.append(_any(should))
        return _all(parts)


def words(text: str) -> list[str]:
    """The words of a text as FTS5's unicode61 tokenizer sees them, lower-cased."""
    found, current = [], []
    for char in text.lower():
        if char.isalnum():
            current.append(char)
        elif current:
            found.append("".join(current))
            current = []
    if current:
        found.append("".join(current))
    return found


def parse(q: str) -> tree.Item:
    try:
        with _PARSER_LOCK:
            return parser.parse(q)
    except ParseError as exc:
        raise QueryError(str(exc).replace("Syntax error in input : ", "").rstrip("!")) from None


def translate(q: str) -> Sql:
    """The WHERE fragment (over ``accounts a``) that ``q`` means; "" or blanks: every row."""
    if not q.strip():
        return _TRUE
    return _Translator().node(parse(q), None)


def sort_key(sort: str) -> str:
    """The ORDER BY expression of a sort field (text sorts case-insensitively)."""
    if sort in ("id", "expires"):
        return f"a.{sort}"
    return f"a.{sort} COLLATE NOCASE"


def encode_cursor(sort: str, order: str, value: Any, row_id: int) -> str:
    """Where the next page starts: after (value, id) of this page's last row."""
    raw = orjson.dumps([sort, order, value, row_id])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str, order: str) -> list[Any]:
    """``[value, id]`` of a cursor made for the same sort and order, or a QueryError."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        made_sort, made_order, value, row_id = orjson.loads(raw)
    except (ValueError, TypeError):
        raise QueryError("not a cursor this API gave") from None
    if (made_sort, made_order) != (sort, order) or not isinstance(row_id, int):
        raise QueryError("made for another sort or order; start again without it")
    return [value, row_id]
