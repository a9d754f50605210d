"""Default template engine: ``${name}`` value insertion, compiled once, rendered to bytes.

The public module. It picks the Cython accelerator ``edge._fastrender`` when
built and the pure-Python twin ``edge._fastrender_py`` otherwise, or always the
twin when the ``accel`` setting says ``py`` (docs/configuration.md). Both give
byte-identical output.
Syntax, escaping modes and the error model are in docs/templates.md.
"""

from __future__ import annotations

from edge import _accel
from edge._fastrender_py import ESCAPE_MODES, escape_text
from edge.template_errors import TemplateError

__all__ = [
    "ESCAPE_MODES",
    "IMPLEMENTATION",
    "Plan",
    "TemplateError",
    "compile_template",
    "escape_text",
]

_impl, IMPLEMENTATION = _accel.load("edge._fastrender", "edge._fastrender_py")

compile_template = _impl.compile_template
Plan = _impl.Plan
