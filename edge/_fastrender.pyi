"""Type stub of the Cython accelerator; same API as edge._fastrender_py."""

from collections.abc import Collection, Mapping

from edge.template_errors import TemplateError as TemplateError

ESCAPE_MODES: tuple[str, ...]

class Plan:
    @property
    def escape(self) -> str: ...
    @property
    def variables(self) -> frozenset[str]: ...
    def render(self, values: Mapping[str, str]) -> bytes: ...

def compile_template(
    source: str, escape: str = "none", known: Collection[str] | None = None
) -> Plan: ...
