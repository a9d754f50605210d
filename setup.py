"""Builds the Cython accelerators only; metadata lives in pyproject.toml.

Switches are environment variables, since pip passes no setup.py flags:
PROVEDGE_CYTHON_DEBUG=1 builds unoptimised with debug symbols, bounds checks and the
PROVEDGE_DEBUG invariant macro; PROVEDGE_SANITIZE=1 (with CC=clang) adds AddressSanitizer
and libFuzzer coverage instrumentation for `make fuzz`; PROVEDGE_PGO=generate, then =use
(GCC) build the SIP parser profile-guided for `make pgo` (the counts go next to its object
file, so both builds must share --build-temp).
"""

import os
import platform
from glob import glob

from Cython.Build import cythonize
from setuptools import Extension, setup

DEBUG = os.environ.get("PROVEDGE_CYTHON_DEBUG") == "1"
SANITIZE = ["-fsanitize=address,fuzzer-no-link", "-fno-omit-frame-pointer", "-g", "-O1"]
sanitize = os.environ.get("PROVEDGE_SANITIZE") == "1"
PGO = {
    "": ([], []),
    "generate": (["-fprofile-generate", "-fprofile-update=single"], ["-fprofile-generate"]),
    "use": (["-fprofile-use", "-fprofile-correction"], []),
}
pgo_compile, pgo_link = PGO[os.environ.get("PROVEDGE_PGO", "")]
# Cython zeroes every object it takes from a freelist (Uri, Address, Via, ...: about ten per
# parsed message) with a memset of the struct's size. GCC's generic x86 tuning expands it
# to `rep stosq`, which takes tens of cycles to start; SSE stores up to 256 bytes (a call
# to memset above) made parses ~3% faster (docs/sipparse.md). GCC-only flag, so it rides
# with the PGO builds, which `make pgo` runs only with GCC.
if pgo_compile and platform.machine() in ("x86_64", "AMD64"):
    pgo_compile = pgo_compile + ["-mmemset-strategy=vector_loop:256:noalign,libcall:-1:noalign"]
PGO_MODULES = {"edge._sipparse"}  # the training run (benchmarks/pgo_workload.py) covers it


def _compile_args(module: str) -> list[str]:
    if sanitize:
        return SANITIZE
    if DEBUG:
        return ["-O0", "-g"]
    return ["-O3", "-fno-plt"] + (pgo_compile if module in PGO_MODULES else [])


def _link_args(module: str) -> list[str]:
    if sanitize:
        return SANITIZE
    return pgo_link if module in PGO_MODULES else []


extensions = [
    Extension(
        module,
        [path],
        extra_compile_args=_compile_args(module),
        extra_link_args=_link_args(module),
        define_macros=[("PROVEDGE_DEBUG", "1")] if DEBUG else [],
        # edge/_sipparse.pyx is split into a .pxd and topic .pxi files it includes.
        depends=sorted(glob(path[:-4] + ".pxd") + glob(path[:-4] + "_*.pxi")),
    )
    for path in sorted(glob(os.path.join("edge", "_*.pyx")))
    for module in [path[:-4].replace(os.sep, ".")]
]

setup(
    ext_modules=cythonize(
        extensions,
        language_level=3,
        compiler_directives={"boundscheck": DEBUG, "wraparound": False, "cdivision": True},
    )
)
