"""Builds the Cython accelerators only; metadata lives in pyproject.toml.

Switches are environment variables, since pip passes no setup.py flags:
PROVEDGE_CYTHON_DEBUG=1 builds unoptimised with debug symbols, bounds checks and the
PROVEDGE_DEBUG invariant macro; PROVEDGE_SANITIZE=1 (with CC=clang) adds AddressSanitizer
and libFuzzer coverage instrumentation for `make fuzz`.
"""

import os
from glob import glob

from Cython.Build import cythonize
from setuptools import Extension, setup

DEBUG = os.environ.get("PROVEDGE_CYTHON_DEBUG") == "1"
SANITIZE = ["-fsanitize=address,fuzzer-no-link", "-fno-omit-frame-pointer", "-g", "-O1"]
sanitize = os.environ.get("PROVEDGE_SANITIZE") == "1"


def _compile_args() -> list[str]:
    if sanitize:
        return SANITIZE
    return ["-O0", "-g"] if DEBUG else ["-O3"]


extensions = [
    Extension(
        path[:-4].replace(os.sep, "."),
        [path],
        extra_compile_args=_compile_args(),
        extra_link_args=SANITIZE if sanitize else [],
        define_macros=[("PROVEDGE_DEBUG", "1")] if DEBUG else [],
    )
    for path in sorted(glob(os.path.join("edge", "_*.pyx")))
]

setup(
    ext_modules=cythonize(
        extensions,
        language_level=3,
        compiler_directives={"boundscheck": DEBUG, "wraparound": False, "cdivision": True},
    )
)
