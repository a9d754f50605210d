"""Default template engine, pure-Python twin (the reference implementation).

A template is text with ``${name}`` placeholders (``name``: ASCII letters,
digits and ``_``, in segments joined by single dots) and ``$$`` for a literal
``$``. It compiles once into a :class:`Plan` (literal UTF-8 byte segments and
value slots) that renders a device's values into bytes. Nothing in a template
can run code. ``edge/_fastrender.pyx`` is the accelerator with the same API and
byte-identical results; it reuses :func:`parse` from here, because compiling is
not hot and one parser means one error model.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Mapping
from typing import NamedTuple

from edge.template_errors import TemplateError

__all__ = ["ESCAPE_MODES", "Plan", "TemplateError", "compile_template", "escape_text", "parse"]

ESCAPE_MODES = ("none", "xml", "line")

_NAME = re.compile(r"[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*")

# xml: the five XML specials become entities. C0 controls other than TAB, LF
# and CR are not allowed anywhere in an XML 1.0 document (not even as
# character references), so one in a value would make the whole config
# unparseable for the phone: they become a space.
_XML_TABLE: dict[int, str] = {c: " " for c in range(0x20) if chr(c) not in "\t\n\r"}
_XML_TABLE.update({ord("&"): "&amp;", ord("<"): "&lt;", ord(">"): "&gt;"})
_XML_TABLE.update({ord('"'): "&quot;", ord("'"): "&apos;"})
_XML_SPECIAL = re.compile("[&<>\"'\x00-\x08\x0b\x0c\x0e-\x1f]")

# line: every control character (Unicode category Cc: C0, DEL, C1 including
# NEL) and the Unicode line/paragraph separators becomes a space, so a value can
# never start a new ``key = value`` line in a Yealink/Fanvil-style text config.
_LINE_CHARS = [*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029]
_LINE_TABLE: dict[int, str] = {c: " " for c in _LINE_CHARS}
_LINE_SPECIAL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def escape_text(value: str, escape: str) -> str:
    """Return ``value`` escaped for the output format ``escape`` (text in, text out).

    The advanced engine applies this to every ``{{ }}`` output so that both
    engines produce the same bytes for the same values.
    """
    if escape == "xml":
        return value.translate(_XML_TABLE) if _XML_SPECIAL.search(value) else value
    if escape == "line":
        return value.translate(_LINE_TABLE) if _LINE_SPECIAL.search(value) else value
    if escape == "none":
        return value
    raise ValueError(f"escape must be one of {ESCAPE_MODES}, not {escape!r}")


class Parsed(NamedTuple):
    """A template split into ``len(slots) + 1`` literals around its value slots."""

    literals: list[bytes]
    slots: list[str]
    # name -> (line, column) of its first placeholder, in first-use order.
    positions: dict[str, tuple[int, int]]


class _Cursor:
    """Line and column of source offsets, for a scan that only moves forward."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.offset = 0
        self.line = 1
        self.line_start = 0

    def where(self, offset: int) -> tuple[int, int]:
        newlines = self.source.count("\n", self.offset, offset)
        if newlines:
            self.line += newlines
            self.line_start = self.source.rindex("\n", self.offset, offset) + 1
        self.offset = offset
        return self.line, offset - self.line_start + 1


def _check_unicode(source: str, cursor: _Cursor) -> None:
    try:
        source.encode("utf-8")
    except UnicodeEncodeError as exc:
        line, column = cursor.where(exc.start)
        raise TemplateError("text is not valid Unicode (lone surrogate)", line, column) from None


def _check_name(name: str, line: int, column: int, known: Collection[str] | None) -> None:
    if not name:
        raise TemplateError("empty placeholder '${}'", line, column)
    if not _NAME.fullmatch(name):
        raise TemplateError(
            f"invalid name {name!r} in placeholder: use letters, digits and '_',"
            " in parts joined by single dots",
            line,
            column,
        )
    if known is not None and name not in known:
        hint = difflib.get_close_matches(name, list(known), n=1)
        suffix = f" (did you mean {hint[0]!r}?)" if hint else ""
        raise TemplateError(f"unknown variable {name!r}{suffix}", line, column)


def parse(source: str, known: Collection[str] | None = None) -> Parsed:
    """Split ``source`` into literals and slots, or raise :class:`TemplateError`."""
    cursor = _Cursor(source)
    _check_unicode(source, cursor)
    cursor = _Cursor(source)
    literals: list[bytes] = []
    slots: list[str] = []
    positions: dict[str, tuple[int, int]] = {}
    text: list[str] = []  # pieces of the literal being built
    pos = 0
    while (dollar := source.find("$", pos)) >= 0:
        text.append(source[pos:dollar])
        following = source[dollar + 1 : dollar + 2]
        if following == "$":
            text.append("$")
            pos = dollar + 2
            continue
        line, column = cursor.where(dollar)
        if following != "{":
            raise TemplateError(
                "'$' must open a placeholder '${name}' or be doubled '$$'", line, column
            )
        close = source.find("}", dollar + 2)
        newline = source.find("\n", dollar + 2)
        if close < 0 or 0 <= newline < close:
            raise TemplateError(
                "unclosed placeholder: '${' without '}' on the same line", line, column
            )
        name = source[dollar + 2 : close]
        _check_name(name, line, column, known)
        literals.append("".join(text).encode("utf-8"))
        slots.append(name)
        positions.setdefault(name, (line, column))
        text.clear()
        pos = close + 1
    text.append(source[pos:])
    literals.append("".join(text).encode("utf-8"))
    return Parsed(literals, slots, positions)


def check_escape(escape: str) -> None:
    if escape not in ESCAPE_MODES:
        raise ValueError(f"escape must be one of {ESCAPE_MODES}, not {escape!r}")


def bad_value_type(name: str, value: object) -> TypeError:
    return TypeError(f"value for {name!r} must be str, not {type(value).__name__}")


class Plan:
    """A compiled Default-engine template; build it with :func:`compile_template`."""

    __slots__ = ("_literals", "_positions", "_slots", "escape", "variables")

    def __init__(self, parsed: Parsed, escape: str) -> None:
        check_escape(escape)
        self.escape = escape
        self.variables = frozenset(parsed.slots)
        self._literals = parsed.literals
        self._slots = parsed.slots
        self._positions = parsed.positions

    def __repr__(self) -> str:
        return f"<Plan escape={self.escape!r} variables={len(self.variables)}>"

    def render(self, values: Mapping[str, str]) -> bytes:
        """Render with ``values`` (name -> str); a missing name raises TemplateError."""
        encoded = {name: self._value(values, name) for name in self._positions}
        literals = self._literals
        out = [literals[0]]
        for index, name in enumerate(self._slots, 1):
            out.append(encoded[name])
            out.append(literals[index])
        return b"".join(out)

    def _value(self, values: Mapping[str, str], name: str) -> bytes:
        try:
            value = values[name]
        except KeyError:
            raise TemplateError(f"no value for variable {name!r}", *self._positions[name]) from None
        if not isinstance(value, str):
            raise bad_value_type(name, value)
        try:
            return escape_text(value, self.escape).encode("utf-8")
        except UnicodeEncodeError:
            message = f"value for {name!r} is not valid Unicode (lone surrogate)"
            raise TemplateError(message, *self._positions[name]) from None


def compile_template(
    source: str, escape: str = "none", known: Collection[str] | None = None
) -> Plan:
    """Compile ``source`` once; ``known`` (when given) is the set of allowed names."""
    check_escape(escape)
    return Plan(parse(source, known), escape)
