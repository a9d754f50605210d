"""control.domain.refs: the one parser of tenant references, and the control-character rule."""

from __future__ import annotations

import pytest

from control.domain.refs import MAX_ID, BadReference, check_text, parse_ref


@pytest.mark.parametrize(
    "text, ref",
    [
        ("1", 1),
        ("007", 7),
        (str(MAX_ID), MAX_ID),
        (str(MAX_ID + 1), str(MAX_ID + 1)),  # out of range: a name
        ("0", "0"),
        ("1" * 25, "1" * 25),
        ("9" * 5000, "9" * 5000),  # int() would raise past 4,300 digits
        ("\u00b2", "\u00b2"),  # str.isdigit() is true for it
        ("\u0661", "\u0661"),  # int() reads it as 1
        ("\uff11", "\uff11"),  # fullwidth one
        (" 1", " 1"),
        ("-1", "-1"),
        ("acme", "acme"),
    ],
)
def test_strings_are_ids_only_as_ascii_digits_in_range(text: str, ref: int | str) -> None:
    assert parse_ref(text) == ref and type(parse_ref(text)) is type(ref)


@pytest.mark.parametrize("value", [True, False, 0, -1, MAX_ID + 1, 1.0, None, [1], {"id": 1}])
def test_other_values_are_refused(value: object) -> None:
    with pytest.raises(BadReference):
        parse_ref(value)


def test_json_integers_in_range_are_ids() -> None:
    assert parse_ref(1) == 1 and parse_ref(MAX_ID) == MAX_ID


@pytest.mark.parametrize(
    "char", ["\x00", "\t", "\n", "\r", "\x1f", "\x7f", "\x80", "\x9f", "\u202a", "\u202e",
             "\u2066", "\u2069"],
)  # fmt: skip
def test_control_characters_are_refused(char: str) -> None:
    with pytest.raises(ValueError, match=f"U\\+{ord(char):04X}"):
        check_text(f"a{char}b")


@pytest.mark.parametrize("text", ["", "Alice Müller", "東京", "\u00a0", "\u200d", "a\u2065b"])
def test_ordinary_text_passes(text: str) -> None:
    assert check_text(text) == text
