"""References to objects as clients type them, parsed strictly, and text that is safe to store.

One parser for every tenant reference the API and the CLI take (path segment, query
parameter, JSON body, ``provedge token create --tenant``): ASCII digits in 1..2^63-1 are an
id (SQLite's INTEGER PRIMARY KEY range), anything else is a name. ``str.isdigit()`` is not
enough: it is true for ``"²"`` and ``"١"`` (Arabic-Indic one), which ``int()`` then refuses
or reads as 1, and ``int()`` of a 5,000-digit string raises.
"""

from __future__ import annotations

import re

MAX_ID = 2**63 - 1
_ID = re.compile(r"[0-9]{1,19}")  # a literal class: ASCII digits only

# C0 and C1 controls, DEL, and the bidirectional overrides and isolates, which make a name
# read differently from what it is ("Trojan Source"). Shared with the JSON Schema pattern.
# CONTROL_CLASS is the inside of a regex character class, written with escapes that
# Python's re and ECMAScript (JSON Schema's pattern dialect) read alike.
CONTROL_CLASS = r"\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069"
_CONTROL = re.compile(f"[{CONTROL_CLASS}]")


class BadReference(ValueError):
    """A reference that is neither an id nor a name (a boolean, a float, an id out of range)."""


def parse_ref(value: object) -> int | str:
    """An id (int) or a name (str) from a reference; :class:`BadReference` if it is neither.

    Strings of ASCII digits in range are ids, every other string is a name (looked up as
    such, so it answers 404 when no tenant has it). JSON integers must be in range;
    booleans and other types are refused.
    """
    if isinstance(value, bool):
        raise BadReference("an id (integer) or a name (string), not a boolean")
    if isinstance(value, int):
        if 1 <= value <= MAX_ID:
            return value
        raise BadReference(f"an id is an integer from 1 to {MAX_ID}")
    if isinstance(value, str):
        if _ID.fullmatch(value) and 1 <= int(value) <= MAX_ID:
            return int(value)
        return value
    raise BadReference("an id (integer) or a name (string)")


def check_text(value: str) -> str:
    """``value`` unchanged, or ValueError if it holds a control or bidi-override character."""
    found = _CONTROL.search(value)
    if found:
        raise ValueError(f"control character U+{ord(found.group()):04X} not allowed")
    return value
