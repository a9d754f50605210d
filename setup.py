"""Builds the Cython accelerators only; metadata lives in pyproject.toml.

PROVEDGE_CYTHON_DEBUG=1 builds with line tracing and invariant checks on
(pip passes no setup.py flags, so switches are environment variables).
"""

import os
from glob import glob

from Cython.Build import cythonize
from setuptools import Extension, setup

DEBUG = os.environ.get("PROVEDGE_CYTHON_DEBUG") == "1"

extensions = [
    Extension(
        path[:-4].replace(os.sep, "."),
        [path],
        extra_compile_args=["-O0", "-g"] if DEBUG else ["-O3"],
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
