"""The one error type of both template engines (Default and advanced).

A plain Python class, imported by the pure-Python twin, the Cython accelerator
and control/advanced.py alike, so callers catch a single type whichever engine
or implementation produced it (house style, as httptools does for its parser).
"""

from __future__ import annotations


class TemplateError(ValueError):
    """A template that cannot be compiled or rendered.

    ``line`` and ``column`` are 1-based and point at the ``$`` that opens the
    offending placeholder (Default engine) or at the line Jinja2 reports
    (advanced engine, whose ``column`` is ``None``). Both are ``None`` when the
    error has no place in the source, e.g. an output size limit.
    """

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        super().__init__(message, line, column)
        self.message = message
        self.line = line
        self.column = column

    def __str__(self) -> str:
        if self.line is None:
            return self.message
        if self.column is None:
            return f"line {self.line}: {self.message}"
        return f"line {self.line}, column {self.column}: {self.message}"
