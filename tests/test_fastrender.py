"""Default template engine: both implementations, byte for byte (ids py / c)."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import types
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import edge._fastrender as c_impl
import edge._fastrender_py as py_impl
import edge.fastrender
from edge._accel import extensions_disabled
from edge.fastrender import escape_text
from edge.template_errors import TemplateError

ROOT = Path(__file__).resolve().parent.parent
IMPLS = [pytest.param(py_impl, id="py"), pytest.param(c_impl, id="c")]


@pytest.fixture(params=IMPLS)
def impl(request: pytest.FixtureRequest) -> types.ModuleType:
    module: types.ModuleType = request.param
    return module


def render(
    impl: types.ModuleType, source: str, values: Mapping[str, str], escape: str = "none"
) -> bytes:
    result: bytes = impl.compile_template(source, escape).render(values)
    return result


def compile_error(impl: types.ModuleType, source: str, **kwargs: object) -> TemplateError:
    with pytest.raises(TemplateError) as info:
        impl.compile_template(source, **kwargs)
    return info.value


# --- which implementation is loaded ------------------------------------------------


def implementation_in_subprocess(disabled: bool) -> str:
    env = {k: v for k, v in os.environ.items() if k != "PROVEDGE_NO_EXTENSIONS"}
    if disabled:
        env["PROVEDGE_NO_EXTENSIONS"] = "1"
    code = "import edge.fastrender as f; print(f.IMPLEMENTATION)"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_compiled_module_loads_unless_disabled() -> None:
    assert edge.fastrender.IMPLEMENTATION == ("py" if extensions_disabled() else "c")
    assert implementation_in_subprocess(disabled=False) == "c"
    assert implementation_in_subprocess(disabled=True) == "py"


def test_public_module_reexports_the_chosen_implementation() -> None:
    chosen = c_impl if edge.fastrender.IMPLEMENTATION == "c" else py_impl
    assert edge.fastrender.compile_template is chosen.compile_template
    assert edge.fastrender.Plan is chosen.Plan
    assert edge.fastrender.TemplateError is TemplateError


# --- rendering -----------------------------------------------------------------------


def test_inserts_values_between_literals(impl: types.ModuleType) -> None:
    source = "account.1.user_name = ${line1.user}\naccount.1.password = ${line1.password}\n"
    values = {"line1.user": "100", "line1.password": "s3cret"}
    assert render(impl, source, values) == (
        b"account.1.user_name = 100\naccount.1.password = s3cret\n"
    )


def test_dollar_dollar_is_a_literal_dollar(impl: types.ModuleType) -> None:
    assert render(impl, "price $$5 ${a}$$${a}$$", {"a": "x"}) == b"price $5 x$x$"


def test_edge_shapes(impl: types.ModuleType) -> None:
    assert render(impl, "", {}) == b""
    assert render(impl, "no placeholders", {}) == b"no placeholders"
    assert render(impl, "${a}", {"a": ""}) == b""
    assert render(impl, "${a}${b}${a}", {"a": "1", "b": "2"}) == b"121"
    assert render(impl, "${A_1.b2.C_}", {"A_1.b2.C_": "v"}) == b"v"


def test_output_is_utf8(impl: types.ModuleType) -> None:
    assert render(impl, "é ${x} ✓", {"x": "Zoë 日本"}) == "é Zoë 日本 ✓".encode()


def test_variables_is_the_frozenset_of_names_used(impl: types.ModuleType) -> None:
    plan = impl.compile_template("${b} ${a.x} ${b} $${c}")
    assert plan.variables == frozenset({"b", "a.x"})
    assert isinstance(plan.variables, frozenset)
    assert plan.escape == "none"


def test_extra_values_are_ignored_and_plan_is_reusable(impl: types.ModuleType) -> None:
    plan = impl.compile_template("<${a}>")
    assert plan.render({"a": "1", "unused": "x"}) == b"<1>"
    assert plan.render({"a": "2"}) == b"<2>"


class ReadOnlyMapping(Mapping[str, str]):
    def __init__(self, data: dict[str, str]) -> None:
        self._data = data

    def __getitem__(self, key: str) -> str:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


def test_any_mapping_works(impl: types.ModuleType) -> None:
    plan = impl.compile_template("${a}-${b}")
    values = {"a": "1", "b": "2"}
    assert plan.render(ReadOnlyMapping(values)) == b"1-2"
    assert plan.render(types.MappingProxyType(values)) == b"1-2"


def test_str_subclass_values_are_accepted(impl: types.ModuleType) -> None:
    class Name(str):
        pass

    assert render(impl, "${a}", {"a": Name("x&y")}, "xml") == b"x&amp;y"


# --- escaping ------------------------------------------------------------------------


def test_xml_escapes_the_five_specials(impl: types.ModuleType) -> None:
    values = {"v": "a&b<c>d\"e'f"}
    expected = b'<x v="a&amp;b&lt;c&gt;d&quot;e&apos;f"/>'
    assert render(impl, '<x v="${v}"/>', values, "xml") == expected


def test_xml_replaces_controls_xml_forbids_and_keeps_tab_lf_cr(impl: types.ModuleType) -> None:
    assert render(impl, "${v}", {"v": "a\x00b\x1fc\td\ne\rf\x7fg"}, "xml") == (
        b"a b c\td\ne\rf\x7fg"
    )


def test_line_cannot_inject_a_new_key_line(impl: types.ModuleType) -> None:
    source = "account.1.label = ${label}\naccount.1.password = ${pw}\n"
    values = {"label": "Desk\r\naccount.1.password = stolen", "pw": "real"}
    out = render(impl, source, values, "line")
    assert out == (
        b"account.1.label = Desk  account.1.password = stolen\naccount.1.password = real\n"
    )
    assert out.count(b"\n") == 2


@pytest.mark.parametrize(
    "char",
    [
        "\x00",
        "\t",
        "\n",
        "\x0b",
        "\x0c",
        "\r",
        "\x1f",
        "\x7f",
        "\x80",
        "\x85",
        "\x9f",
        "\u2028",
        "\u2029",
    ],
)
def test_line_turns_each_control_character_into_one_space(
    impl: types.ModuleType, char: str
) -> None:
    assert render(impl, "k = ${v}", {"v": f"a{char}b"}, "line") == b"k = a b"


def test_line_keeps_other_non_ascii(impl: types.ModuleType) -> None:
    # U+00A0 (C2 A0) and U+2027 (E2 80 A7) share lead bytes with escaped characters.
    value = "\u00a0\u00e9\u2027\u202a\u20ac"
    assert render(impl, "${v}", {"v": value}, "line") == value.encode()


def test_none_inserts_as_is(impl: types.ModuleType) -> None:
    value = "<&>\r\n\x00'\""
    assert render(impl, "${v}", {"v": value}, "none") == value.encode()


def test_literals_are_never_escaped(impl: types.ModuleType) -> None:
    assert render(impl, "<a & '${v}'>\n", {"v": "&"}, "xml") == b"<a & '&amp;'>\n"


def test_unknown_escape_mode_is_a_value_error(impl: types.ModuleType) -> None:
    with pytest.raises(ValueError, match="escape must be one of"):
        impl.compile_template("${a}", "html")


# --- compile errors ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "line", "column", "message"),
    [
        ("a $x", 1, 3, "'$' must open a placeholder"),
        ("a\nbc$", 2, 3, "'$' must open a placeholder"),
        ("x\ny = ${name", 2, 5, "unclosed placeholder"),
        ("${name\n}", 1, 1, "unclosed placeholder"),
        ("ok\n\n  ${}", 3, 3, "empty placeholder"),
        ("${a b}", 1, 1, "invalid name 'a b'"),
        ("${.a}", 1, 1, "invalid name"),
        ("${a.}", 1, 1, "invalid name"),
        ("${a..b}", 1, 1, "invalid name"),
        ("${é}", 1, 1, "invalid name"),
        ("${a-b}", 1, 1, "invalid name"),
        ("ééé${ x}", 1, 4, "invalid name"),
        ("$${a}${", 1, 6, "unclosed placeholder"),
    ],
)
def test_compile_errors_name_line_and_column(
    impl: types.ModuleType, source: str, line: int, column: int, message: str
) -> None:
    error = compile_error(impl, source)
    assert (error.line, error.column) == (line, column)
    assert message in error.message
    assert str(error).startswith(f"line {line}, column {column}: ")


def test_unknown_variable_when_known_is_given(impl: types.ModuleType) -> None:
    known = {"line1.password", "line1.user"}
    assert impl.compile_template("${line1.user}", known=known).variables == {"line1.user"}
    error = compile_error(impl, "a\n b ${line1.user} ${line1.pasword}", known=known)
    assert (error.line, error.column) == (2, 18)
    assert error.message == "unknown variable 'line1.pasword' (did you mean 'line1.password'?)"
    error = compile_error(impl, "${zzz}", known=known)
    assert error.message == "unknown variable 'zzz'"


def test_lone_surrogate_in_source_is_a_compile_error(impl: types.ModuleType) -> None:
    error = compile_error(impl, "ab\nc\ud800")
    assert (error.line, error.column) == (2, 2)


# --- render errors -------------------------------------------------------------------


def test_missing_value_names_the_first_placeholder(impl: types.ModuleType) -> None:
    plan = impl.compile_template("a = ${a}\nb = ${b}\nb2 = ${b}")
    with pytest.raises(TemplateError) as info:
        plan.render({"a": "1"})
    assert (info.value.line, info.value.column, info.value.message) == (
        2,
        5,
        "no value for variable 'b'",
    )
    with pytest.raises(TemplateError, match="no value for variable 'a'"):
        plan.render(ReadOnlyMapping({}))


def test_non_str_value_is_a_type_error(impl: types.ModuleType) -> None:
    plan = impl.compile_template("${a}${b}")
    with pytest.raises(TypeError, match="value for 'b' must be str, not int"):
        plan.render({"a": "x", "b": 360})


def test_lone_surrogate_value_is_a_template_error(impl: types.ModuleType) -> None:
    with pytest.raises(TemplateError, match="not valid Unicode") as info:
        impl.compile_template("x ${a}").render({"a": "\udcff"})
    assert (info.value.line, info.value.column) == (1, 3)


def test_template_error_pickles_with_its_place() -> None:
    error = pickle.loads(pickle.dumps(TemplateError("bad", 3, 4)))
    assert (error.message, error.line, error.column, str(error)) == (
        "bad",
        3,
        4,
        "line 3, column 4: bad",
    )
    assert str(TemplateError("no place")) == "no place"


# --- the two implementations agree on anything ---------------------------------------

NAMES = ["a", "b.c", "line1.password", "x_1"]
piece = st.one_of(
    st.text(alphabet=st.characters(blacklist_characters="$", codec="utf-8"), max_size=8),
    st.just("$$"),
    st.sampled_from([f"${{{name}}}" for name in NAMES]),
)
value_text = st.text(max_size=12)  # any code point but surrogates, controls included


@given(
    pieces=st.lists(piece, max_size=12),
    values=st.fixed_dictionaries({name: value_text for name in NAMES}),
    escape=st.sampled_from(["none", "xml", "line"]),
)
def test_property_both_render_the_reference_model(
    pieces: list[str], values: dict[str, str], escape: str
) -> None:
    expected = b"".join(
        b"$"
        if p == "$$"
        else escape_text(values[p[2:-1]], escape).encode()
        if p.startswith("${")
        else p.encode()
        for p in pieces
    )
    source = "".join(pieces)
    assert py_impl.compile_template(source, escape).render(values) == expected
    assert c_impl.compile_template(source, escape).render(values) == expected


def outcome(module: types.ModuleType, source: str, values: dict[str, str], escape: str) -> object:
    try:
        return module.compile_template(source, escape).render(values)
    except TemplateError as exc:
        return (exc.line, exc.column, exc.message)


@given(
    source=st.text(alphabet=st.sampled_from("$${}ab.\n é_"), max_size=20),
    values=st.dictionaries(st.sampled_from(["a", "b", "a.b", "ab"]), value_text),
    escape=st.sampled_from(["none", "xml", "line"]),
)
def test_property_implementations_agree_on_any_source(
    source: str, values: dict[str, str], escape: str
) -> None:
    assert outcome(py_impl, source, values, escape) == outcome(c_impl, source, values, escape)
