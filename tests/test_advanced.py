"""Advanced engine: sandboxed Jinja2, nested values, limits, escaping like the Default engine."""

from __future__ import annotations

import pytest

from control.publish.advanced import Limits, compile_advanced, nest_values
from edge.fastrender import compile_template
from edge.template_errors import TemplateError

VALUES = {
    "tenant.sip_server": "sip.example.com",
    "tenant.sip_port": "5060",
    "device.name": "Desk <1> & 'co'",
    "device.copy": "not a dict method",
    **{f"line{n}.user": f"10{n}" for n in range(1, 7)},
    **{f"line{n}.password": f"pw{n}\r\nx = y" for n in range(1, 7)},
}


def render(source: str, values: dict[str, str] | None = None, **kwargs: object) -> bytes:
    return compile_advanced(source, **kwargs).render(VALUES if values is None else values)  # type: ignore[arg-type]


def refused(source: str, match: str | None = None, **kwargs: object) -> TemplateError:
    with pytest.raises(TemplateError, match=match) as info:
        render(source, **kwargs)
    return info.value


# --- values and logic ------------------------------------------------------------------


def test_flat_values_read_nested() -> None:
    source = "{{ tenant.sip_server }}:{{ tenant['sip_port'] }} {{ line1.user }} {{ device.copy }}"
    assert render(source) == b"sip.example.com:5060 101 not a dict method"


def test_lines_loop_in_order_with_index() -> None:
    source = (
        "{% for line in lines %}\naccount.{{ line.index }}.user = {{ line.user }}\n{% endfor %}\n"
    )
    expected = "".join(f"account.{n}.user = 10{n}\n" for n in range(1, 7)).encode()
    assert render(source) == expected


def test_lines_follow_numeric_order_and_only_present_lines() -> None:
    values = {"line10.user": "c", "line2.user": "b", "line1.user": "a", "linex.user": "no"}
    context = nest_values(values)
    assert [(line["index"], line["user"]) for line in context["lines"]] == [
        (1, "a"),
        (2, "b"),
        (10, "c"),
    ]
    assert context["line2"] is context["lines"][1]


def test_logic_works() -> None:
    source = (
        "{% if line1.user == '101' %}yes{% else %}no{% endif %} {{ lines|length }} {{ 'ab'|upper }}"
    )
    assert render(source) == b"yes 6 AB"


def test_trailing_newline_is_kept() -> None:
    assert render("{{ line1.user }}\n") == b"101\n"


def test_conflicting_and_reserved_values_are_refused() -> None:
    with pytest.raises(TemplateError, match="conflicts"):
        compile_advanced("x").render({"a": "1", "a.b": "2"})
    with pytest.raises(TemplateError, match="conflicts"):
        compile_advanced("x").render({"a.b": "2", "a": "1"})
    with pytest.raises(TemplateError, match="reserved"):
        compile_advanced("x").render({"lines": "1"})
    with pytest.raises(TemplateError, match="reserved"):
        compile_advanced("x").render({"line1.index": "1"})


# --- escaping: same bytes as the Default engine ---------------------------------------


@pytest.mark.parametrize("escape", ["none", "xml", "line"])
def test_same_bytes_as_default_engine(escape: str) -> None:
    default = (
        '<phone name="${device.name}" server="${tenant.sip_server}">\n'
        "account.1.password = ${line1.password}\n"
        "account.2.password = ${line2.password} é\n"
    )
    advanced = (
        '<phone name="{{ device.name }}" server="{{ tenant.sip_server }}">\n'
        "{% for line in lines if line.index <= 2 %}\n"
        "account.{{ line.index }}.password = {{ line.password }}"
        "{{ ' é' if line.index == 2 else '' }}\n"
        "{% endfor %}\n"
    )
    expected = compile_template(default, escape).render(VALUES)
    assert render(advanced, escape=escape) == expected


def test_every_expression_output_is_escaped_but_not_literal_text() -> None:
    assert render("<a>{{ '<&>' }}{{ 1 + 1 }}</a>", escape="xml") == b"<a>&lt;&amp;&gt;2</a>"


# --- compile errors ---------------------------------------------------------------------


def test_syntax_error_names_the_line() -> None:
    with pytest.raises(TemplateError) as info:
        compile_advanced("ok\n{% if %}\n", name="mac.cfg")
    assert info.value.line == 2
    assert str(info.value).startswith("line 2: ")


@pytest.mark.parametrize(
    "source",
    ["{% import 'x' as y %}", "{% from 'x' import y %}", "{% include 'x' %}", "{% extends 'x' %}"],
)
def test_imports_and_includes_are_refused_at_compile_time(source: str) -> None:
    with pytest.raises(TemplateError, match="not allowed") as info:
        compile_advanced("\n" + source)
    assert info.value.line == 2


def test_unknown_escape_mode_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="escape must be one of"):
        compile_advanced("x", escape="html")


# --- the sandbox -------------------------------------------------------------------------


def test_undefined_variable_is_an_error_with_line() -> None:
    error = refused("a\n{{ line1.nope }}", "has no attribute 'nope'")
    assert error.line == 2
    refused("{{ nope }}", "'nope' is undefined")


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ lines.__class__.__subclasses__() }}",
        "{{ range.__globals__ }}",
        "{{ device.name.__init__.__globals__ }}",
        "{{ tenant._items }}",
        "{{ lines['__class__'] }}",
        "{{ ''|attr('__class__') }}",
    ],
)
def test_dunder_and_private_attributes_are_refused(source: str) -> None:
    refused(source, "unsafe")


@pytest.mark.parametrize("name", ["cycler", "joiner", "namespace", "lipsum"])
def test_dangerous_globals_are_gone(name: str) -> None:
    refused(f"{{{{ {name}() }}}}", f"'{name}' is undefined")
    refused(f"{{{{ {name}.__init__.__globals__ }}}}", "unsafe")


@pytest.mark.parametrize(
    "source",
    [
        "{{ '{0.__class__}'.format(device) }}",
        "{{ '{0.__class__.__mro__}'.format(1) }}",
        "{{ '{x.__class__.__base__.__subclasses__}'.format_map({'x': 1}) }}",
        "{{ '{0.__init__.__globals__}'.format(range) }}",
        "{{ ''.format.__self__.__class__ }}",
    ],
)
def test_format_tricks_cannot_reach_attributes(source: str) -> None:
    refused(source, "unsafe")


def test_mutating_lists_and_dicts_is_refused() -> None:
    refused("{{ lines.append(1) }}", "unsafe")
    refused("{% set d = {} %}{{ d.update({'a': 1}) }}", "unsafe")


@pytest.mark.parametrize(
    ("source", "match"),
    [
        ("{% for i in range(10**9) %}{% endfor %}", "exceeds"),
        ("{% for i in range(1000000000) %}x{% endfor %}", "exceeds"),
        ("{{ range(100001)|length }}", "exceeds"),
        (
            "{% for a in range(1000) %}{% for b in range(1000) %}{% endfor %}{% endfor %}",
            "loop iterations",
        ),
        ("{% for c in 'x' * 200000 %}{% endfor %}", "loop iterations"),
    ],
)
def test_huge_loops_are_refused(source: str, match: str) -> None:
    refused(source, match)


@pytest.mark.parametrize(
    "source",
    [
        "{{ 'x' * 10**9 }}",
        "{{ 'x' * 1000000000 }}",
        "{{ ['x'] * 1000000000 }}",
        "{{ 1000000000 * 'x' }}",
        "{{ 'x'|center(1000000000) }}",
        "{{ 'x'|indent(1000000000) }}",
        "{{ 'x'.ljust(1000000000) }}",
        "{{ 'x'.zfill(1000000000) }}",
        "{{ '%999999999d' % 1 }}",
        "{{ '%999999999d'|format(1) }}",
        "{{ '{:>999999999}'.format(1) }}",
        "{{ '{0:>{1}}'.format(1, 999999999) }}",
        "{{ ('x' * 1000000).replace('', 'yy') }}",
        "{{ ('x' * 1000000)|replace('', 'yy') }}",
        "{{ 2 ** 100000 }}",
        "{{ (2 ** 4000) * (2 ** 4000) }}",
        "{{ ('x' * 1000000) ~ ('x' * 1000000) ~ 'x' }}",
        "{{ ('x' * 1000000) + ('x' * 1000000) }}",
        "{% macro f(s, n) %}{{ f(s ~ s, n - 1) if n else s|length }}{% endmacro %}{{ f('x', 60) }}",
    ],
)
def test_memory_blowups_are_refused(source: str) -> None:
    refused(source)


def test_unbounded_recursion_is_refused() -> None:
    refused("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "recursion")


def test_output_is_bounded() -> None:
    source = "{% for i in range(100) %}{{ 'x' * 1000 }}{% endfor %}"
    assert len(render(source)) == 100_000
    refused(source, "output exceeds 50000 bytes", limits=Limits(max_output_bytes=50_000))


def test_render_time_is_bounded() -> None:
    # A zero budget is over at the first check, wherever that falls.
    refused(
        "{% for i in range(3) %}{{ i }}{% endfor %}", "longer than", limits=Limits(time_limit_s=0)
    )
    refused("{{ 'a'|upper }}", "longer than", limits=Limits(time_limit_s=0))


def test_budget_is_per_render() -> None:
    template = compile_advanced(
        "{% for i in range(60) %}.{% endfor %}", limits=Limits(max_iterations=100)
    )
    assert template.render({}) == b"." * 60
    assert template.render({}) == b"." * 60


def test_runtime_errors_become_template_errors_with_line() -> None:
    error = refused("ok\n\n{{ 1 / 0 }}", "ZeroDivisionError")
    assert error.line == 3
