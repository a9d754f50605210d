"""The advanced template engine: sandboxed Jinja2 with bounded output, time and loops.

Operators upload templates with logic (the manuals' FreeMarker engine); they run
in Jinja2's ImmutableSandboxedEnvironment (no dunder or internal attributes, no
mutation of lists and dicts, ``str.format`` sandboxed) with more fences added
here, because the stock sandbox protects against escapes, not against a
template that burns CPU or memory:

- no imports, includes or template inheritance (refused at compile time);
- undefined variables are errors (StrictUndefined);
- the ``lipsum``, ``cycler``, ``joiner`` and ``namespace`` globals are gone;
- ``range()`` and every loop share one iteration budget per render;
- ``*``, ``**``, ``%`` and ``+`` refuse results past the size limits, and so do
  calls, filters and format strings with huge widths or counts;
- output is streamed with ``generate()`` against a byte budget and a deadline,
  which calls, filters, operators and loops check too.

Every failure surfaces as :class:`edge.template_errors.TemplateError`. The
values are the Default engine's flat dotted names, presented nested
(``{{ tenant.sip_server }}``) plus ``lines`` (line1..lineN in order, each with
``index``). ``escape`` applies the Default engine's escaping to every ``{{ }}``
output, so the same values give the same bytes in both engines.
"""

from __future__ import annotations

import contextvars
import functools
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from jinja2 import StrictUndefined, nodes
from jinja2.exceptions import SecurityError, TemplateSyntaxError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from edge.fastrender import ESCAPE_MODES, escape_text
from edge.template_errors import TemplateError

__all__ = ["AdvancedTemplate", "Limits", "TemplateError", "compile_advanced", "nest_values"]


@dataclass(frozen=True)
class Limits:
    """What one render may spend. A phone config is a few KB; these are generous."""

    max_output_bytes: int = 1 << 20
    time_limit_s: float = 1.0
    # Loop iterations per render, all {% for %} loops together; also range()'s size.
    max_iterations: int = 100_000
    # Largest integer argument to a call or filter, and width in a format string.
    max_int_argument: int = 100_000
    # Largest integer an arithmetic operator may produce, in bits.
    max_int_bits: int = 4096


DEFAULT_LIMITS = Limits()
_LOOP_GUARD = "provedge:loop_guard"  # not a valid filter name in template text
_FORBIDDEN_NODES = (nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)
_DIGITS = re.compile(r"\d+")
_LINE_KEY = re.compile(r"line([1-9][0-9]*)")


class _Budget:
    """The per-render allowance; lives in a context variable during a render."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.deadline = time.monotonic() + limits.time_limit_s
        self.iterations = limits.max_iterations

    def tick(self) -> None:
        if time.monotonic() > self.deadline:
            raise SecurityError(f"render took longer than {self.limits.time_limit_s} s")

    def iterate(self) -> None:
        self.iterations -= 1
        if self.iterations < 0:
            raise SecurityError(f"more than {self.limits.max_iterations} loop iterations")
        self.tick()


# Outside a render (Jinja folds constant expressions at compile time) the
# default limits apply and nothing is spent.
_current: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar(
    "provedge_advanced_budget", default=None
)


def _limits() -> Limits:
    budget = _current.get()
    return budget.limits if budget is not None else DEFAULT_LIMITS


def _tick() -> None:
    budget = _current.get()
    if budget is not None:
        budget.tick()


def _check_size(value: object, limits: Limits) -> None:
    if isinstance(value, (str, bytes, list, tuple, dict)) and len(value) > limits.max_output_bytes:
        raise SecurityError(f"a value of {len(value)} items exceeds the output limit")


def _check_arguments(args: Iterable[object], limits: Limits) -> None:
    for arg in args:
        if isinstance(arg, int) and abs(arg) > limits.max_int_argument:
            raise SecurityError(f"argument {arg} exceeds {limits.max_int_argument}")
        _check_size(arg, limits)


def _check_format_string(fmt: str, limits: Limits) -> None:
    """Refuse '%999999999d' or '{:>999999999}': widths would allocate gigabytes."""
    for digits in _DIGITS.findall(fmt):
        if len(digits) > 9 or int(digits) > limits.max_int_argument:
            raise SecurityError(f"number {digits} in a format string is too large")


def _check_replace(text: object, old: object, new: object, limits: Limits) -> None:
    """'s.replace("", s)' grows quadratically: measure before doing it."""
    if isinstance(text, str) and isinstance(old, str) and isinstance(new, str):
        growth = text.count(old) * max(len(new) - len(old), 0)
        if len(text) + growth > limits.max_output_bytes:
            raise SecurityError("replace() result exceeds the output limit")


def _check_binop(operator: str, left: Any, right: Any, limits: Limits) -> None:
    if operator == "*":
        if isinstance(left, int) and isinstance(right, int):
            if left.bit_length() + right.bit_length() > limits.max_int_bits:
                raise SecurityError("integer product too large")
        elif isinstance(left, int) or isinstance(right, int):
            seq, count = (right, left) if isinstance(left, int) else (left, right)
            if hasattr(seq, "__len__") and len(seq) * max(count, 0) > limits.max_output_bytes:
                raise SecurityError("repetition exceeds the output limit")
    elif operator == "**":
        if (
            isinstance(left, int)
            and isinstance(right, int)
            and right > 0
            and max(left.bit_length(), 1) * right > limits.max_int_bits
        ):
            raise SecurityError("power too large")
    elif operator == "%" and isinstance(left, str):
        _check_format_string(left, limits)
    elif (
        operator == "+"
        and hasattr(left, "__len__")
        and hasattr(right, "__len__")
        and len(left) + len(right) > limits.max_output_bytes
    ):
        raise SecurityError("concatenation exceeds the output limit")


def _guard_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a stock filter with the deadline and size checks (keeps its jinja_pass_arg)."""

    @functools.wraps(func)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        _tick()
        limits = _limits()
        _check_arguments((*args, *kwargs.values()), limits)
        plain = [a for a in args if not isinstance(a, (Context,))]
        if name == "format" and plain and isinstance(plain[0], str):
            _check_format_string(plain[0], limits)
        if name == "replace" and len(plain) >= 3:
            _check_replace(plain[0], plain[1], plain[2], limits)
        result = func(*args, **kwargs)
        _check_size(result, limits)
        return result

    return guarded


def _loop_guard(iterable: Iterable[Any]) -> Iterator[Any]:
    """Spend one iteration of the render's budget per item of a {% for %} loop."""
    budget = _current.get()
    for item in iterable:
        if budget is not None:
            budget.iterate()
        yield item


def _bounded_range(*args: int) -> range:
    """range() with bounded arguments and length; loops over it spend the budget."""
    limits = _limits()
    _check_arguments(args, limits)
    numbers = range(*args)
    if len(numbers) > limits.max_iterations:
        raise SecurityError(f"range of {len(numbers)} exceeds {limits.max_iterations} items")
    return numbers


class _Sandbox(ImmutableSandboxedEnvironment):
    """ImmutableSandboxedEnvironment plus the resource fences described above."""

    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def __init__(self, escape: str) -> None:
        super().__init__(
            undefined=StrictUndefined,
            autoescape=False,
            finalize=functools.partial(_finalize, escape=escape),
            keep_trailing_newline=True,  # the Default engine keeps it: same bytes
            trim_blocks=True,  # a line holding only a tag leaves no blank line
            lstrip_blocks=True,
        )
        for name in ("lipsum", "cycler", "joiner", "namespace"):
            del self.globals[name]
        self.globals["range"] = _bounded_range
        self.filters = {name: _guard_filter(name, f) for name, f in self.filters.items()}
        self.filters[_LOOP_GUARD] = _loop_guard

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        _tick()
        _check_binop(operator, left, right, _limits())
        return super().call_binop(context, operator, left, right)

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        _tick()
        limits = _limits()
        _check_arguments((*args, *kwargs.values()), limits)
        if (
            getattr(obj, "__name__", None) == "replace"
            and isinstance(getattr(obj, "__self__", None), str)
            and len(args) >= 2
        ):
            _check_replace(obj.__self__, args[0], args[1], limits)
        return super().call(context, obj, *args, **kwargs)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapper = super().wrap_str_format(value)
        if wrapper is not None:
            _check_format_string(value.__self__, _limits())
        return wrapper


def _finalize(value: Any, escape: str) -> str:
    return escape_text(value if isinstance(value, str) else str(value), escape)


@functools.cache
def _environment(escape: str) -> _Sandbox:
    return _Sandbox(escape)


class _Node(Mapping[str, Any]):
    """One level of the nested values: ``tenant.sip_server`` reads as an attribute.

    Not a dict, so that names such as ``copy`` or ``update`` are values, not
    dict methods (Jinja tries the attribute before the item).
    """

    __slots__ = ("_items",)

    def __init__(self, items: dict[str, Any]) -> None:
        self._items = items

    def __getitem__(self, key: str) -> Any:
        return self._items[key]

    def __getattr__(self, name: str) -> Any:
        try:
            return self._items[name]
        except KeyError:
            raise AttributeError(name) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"_Node({self._items!r})"


def _tree(values: Mapping[str, str]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for key, value in values.items():
        *parents, leaf = key.split(".")
        node = root
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise TemplateError(f"value {key!r} conflicts with a value named by its prefix")
        if isinstance(node.get(leaf), dict):
            raise TemplateError(f"value {key!r} conflicts with values named {key + '.'!r}...")
        node[leaf] = value
    return root


def _freeze(tree: dict[str, Any]) -> _Node:
    return _Node({k: _freeze(v) if isinstance(v, dict) else v for k, v in tree.items()})


def nest_values(values: Mapping[str, str]) -> dict[str, Any]:
    """Flat dotted values -> the advanced engine's context (nested, plus ``lines``)."""
    tree = _tree(values)
    if "lines" in tree:
        raise TemplateError("'lines' is reserved for the list of lines")
    numbered = sorted(
        (int(m.group(1)), key)
        for key in tree
        if (m := _LINE_KEY.fullmatch(key)) and isinstance(tree[key], dict)
    )
    lines = []
    for number, key in numbered:
        if "index" in tree[key]:
            raise TemplateError(f"'{key}.index' is reserved for the line number")
        lines.append(_Node({**tree[key], "index": number}))
    context = {k: _freeze(v) if isinstance(v, dict) else v for k, v in tree.items()}
    for line in lines:
        context[f"line{line['index']}"] = line
    context["lines"] = lines
    return context


def _template_line(exc: BaseException, filename: str) -> int | None:
    """Line of the innermost template frame (Jinja rewrites tracebacks to point there)."""
    line = getattr(exc, "lineno", None)
    tb: TracebackType | None = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _as_template_error(exc: Exception, filename: str) -> TemplateError:
    if isinstance(exc, TemplateError):
        return exc
    if isinstance(exc, (SecurityError, TemplateSyntaxError)) or type(exc).__module__.startswith(
        "jinja2"
    ):
        message = exc.message if isinstance(exc, TemplateSyntaxError) and exc.message else str(exc)
    else:
        message = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, RecursionError):
        message = "recursion too deep"
    return TemplateError(message, _template_line(exc, filename))


def _check_tree(tree: nodes.Template) -> None:
    for node in tree.find_all(_FORBIDDEN_NODES):
        kind = type(node).__name__.lower()
        raise TemplateError(f"{kind} is not allowed in an uploaded template", node.lineno)


def _guard_loops(tree: nodes.Template) -> None:
    for loop in tree.find_all(nodes.For):
        loop.iter = nodes.Filter(loop.iter, _LOOP_GUARD, [], [], None, None, lineno=loop.lineno)


class AdvancedTemplate:
    """A compiled advanced template; build it with :func:`compile_advanced`."""

    def __init__(self, template: Any, name: str, escape: str, limits: Limits) -> None:
        self._template = template
        self.name = name
        self.escape = escape
        self.limits = limits

    def __repr__(self) -> str:
        return f"<AdvancedTemplate {self.name!r} escape={self.escape!r}>"

    def render(self, values: Mapping[str, str]) -> bytes:
        """Render with flat dotted ``values``; any failure raises TemplateError."""
        context = nest_values(values)
        token = _current.set(_Budget(self.limits))
        try:
            return self._stream(context)
        except Exception as exc:  # everything a template can provoke becomes one error type
            raise _as_template_error(exc, self.name) from exc
        finally:
            _current.reset(token)

    def _stream(self, context: dict[str, Any]) -> bytes:
        budget = _current.get()
        assert budget is not None
        out: list[bytes] = []
        size = 0
        chunks = self._template.generate(context)
        try:
            for chunk in chunks:
                data = chunk.encode("utf-8")
                size += len(data)
                if size > self.limits.max_output_bytes:
                    raise TemplateError(f"output exceeds {self.limits.max_output_bytes} bytes")
                budget.tick()
                out.append(data)
        finally:
            chunks.close()
        return b"".join(out)


def compile_advanced(
    source: str, name: str = "<template>", escape: str = "none", limits: Limits = DEFAULT_LIMITS
) -> AdvancedTemplate:
    """Compile an uploaded template, or raise TemplateError (with its line)."""
    if escape not in ESCAPE_MODES:
        raise ValueError(f"escape must be one of {ESCAPE_MODES}, not {escape!r}")
    env = _environment(escape)
    try:
        tree = env.parse(source, name, name)
        _check_tree(tree)
        _guard_loops(tree)
        code = env.compile(tree, name, name)
        template = env.template_class.from_code(env, code, env.make_globals(None), None)
    except Exception as exc:
        raise _as_template_error(exc, name) from exc
    return AdvancedTemplate(template, name, escape, limits)
