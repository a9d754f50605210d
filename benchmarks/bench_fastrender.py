"""Render throughput of the Default engine (c, py) against Jinja2, on shipped templates.

Run: .venv/bin/python -m pytest benchmarks/bench_fastrender.py --benchmark-enable --benchmark-only

Templates: templates/yealink/<*mac*.cfg> (escape "line") and the templates/polycom
file with the most placeholders (escape "xml"); a generated ~2.6 KB Yealink-style
template (6 accounts x 10 keys) stands in when the Yealink file is absent.
Every ${name} found gets a plausible value (a 6-line device).

Contenders, all producing the same bytes (checked before timing):
- c / py: edge._fastrender / edge._fastrender_py, a compiled Plan.render(values).
- jinja2: the same template converted to {{ name }}, a plain jinja2.Environment
  (not sandboxed) with a finalize doing the same escaping, given the nested
  values prepared once outside the timing, output encoded to UTF-8.
- advanced: control.publish.advanced (sandboxed, budgets), including nesting the values.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jinja2
import pytest

import edge._fastrender as c_impl
import edge._fastrender_py as py_impl
from control.publish.advanced import compile_advanced, nest_values
from edge.fastrender import escape_text

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_.]+)\}")
YEALINK_KEYS = [
    ("enable", "enabled"),
    ("label", "label"),
    ("display_name", "display_name"),
    ("auth_name", "auth_user"),
    ("user_name", "user"),
    ("password", "password"),
    ("sip_server.1.address", "sip_server"),
    ("sip_server.1.port", "sip_port"),
    ("sip_server.1.transport_type", "transport"),
    ("sip_server.1.expires", "expires"),
]


def generated_yealink() -> str:
    lines = ["#!version:1.0.0.1", "## provedge: ${device.name} (${device.mac})"]
    for n in range(1, 7):
        lines += [f"account.{n}.{key} = ${{line{n}.{name}}}" for key, name in YEALINK_KEYS]
    return "\n".join(lines) + "\n"


def find_template(folder: str, pick: Callable[[list[Path]], Path | None]) -> str | None:
    files = sorted((TEMPLATES / folder).glob("*")) if (TEMPLATES / folder).is_dir() else []
    chosen = pick([f for f in files if f.is_file()])
    return chosen.read_text(encoding="utf-8") if chosen else None


def yealink_source() -> tuple[str, str]:
    def pick(files: list[Path]) -> Path | None:
        return next((f for f in files if "mac" in f.name and f.suffix == ".cfg"), None)

    found = find_template("yealink", pick)
    return (found, "templates/yealink") if found else (generated_yealink(), "generated")


def polycom_source() -> tuple[str, str] | None:
    def pick(files: list[Path]) -> Path | None:
        counted = [(len(PLACEHOLDER.findall(f.read_text(encoding="utf-8"))), f) for f in files]
        return max(counted)[1] if counted else None

    found = find_template("polycom", pick)
    return (found, "templates/polycom") if found else None


def plausible(name: str) -> str:
    leaf = name.rsplit(".", 1)[-1]
    table = {
        "password": "Xk9#mQ2&vL7pR4tZ",
        "admin_password": "8d2F!kq0Zr",
        "user": "1001",
        "auth_user": "1001",
        "label": "Reception",
        "display_name": "Anna Müller",
        "enabled": "1",
        "expires": "360",
        "sip_server": "sip.tenant1.example.net",
        "sip_port": "5060",
        "sip_transport": "udp",
        "transport": "0",
        "mac": "00:15:65:aa:bb:cc",
        "mac_colon": "00:15:65:aa:bb:cc",
        "name": "Front desk <T54W>",
    }
    if leaf in table:
        return table[leaf]
    if "url" in leaf:
        return "https://prov.example.net/bg/t54w.jpg"
    return f"{leaf}-value"


def to_jinja(source: str) -> str:
    """${name} -> {{ name }}, $$ -> $ (the shipped templates hold no '{{' or '{%')."""
    return re.sub(
        r"\$\$|\$\{([^}]*)\}",
        lambda m: "$" if m.group(0) == "$$" else f"{{{{ {m.group(1)} }}}}",
        source,
    )


CASES: dict[str, tuple[str, str, str]] = {}
_yealink, _origin = yealink_source()
CASES["yealink"] = (_yealink, "line", _origin)
if (_polycom := polycom_source()) is not None:
    CASES["polycom"] = (_polycom[0], "xml", _polycom[1])


def make_renderer(
    engine: str, source: str, escape: str, values: dict[str, str]
) -> Callable[[], bytes]:
    if engine in ("c", "py"):
        plan = (c_impl if engine == "c" else py_impl).compile_template(source, escape)
        return functools.partial(plan.render, values)
    if engine == "advanced":
        template = compile_advanced(to_jinja(source), escape=escape)
        return functools.partial(template.render, values)
    env = jinja2.Environment(
        keep_trailing_newline=True,
        finalize=lambda v: escape_text(v if isinstance(v, str) else str(v), escape),
    )
    plain = env.from_string(to_jinja(source))
    context: dict[str, Any] = nest_values(values)
    return lambda: plain.render(context).encode("utf-8")


@pytest.mark.parametrize("engine", ["c", "py", "jinja2", "advanced"])
@pytest.mark.parametrize("case", list(CASES))
def test_render(benchmark: Any, case: str, engine: str) -> None:
    source, escape, origin = CASES[case]
    values = {name: plausible(name) for name in PLACEHOLDER.findall(source)}
    expected = c_impl.compile_template(source, escape).render(values)
    render = make_renderer(engine, source, escape, values)
    assert render() == expected  # same bytes before comparing speed
    benchmark.extra_info.update(template=origin, bytes=len(expected), variables=len(values))
    # Many calls per timed round: one call of the c engine is ~1-2 us, the same
    # order as the timer overhead pytest-benchmark adds to each round.
    started = time.perf_counter()
    for _ in range(20):
        render()
    per_call = (time.perf_counter() - started) / 20
    iterations = max(1, int(0.005 / per_call))
    benchmark.pedantic(render, rounds=100, iterations=iterations, warmup_rounds=1)
