"""The accelerators' sources: public C API only (every one of them), and the SIP parser's
layout docs/sipparse.md describes (one .pxd, one .pxi per topic, each mirrored by a
module of the twin)."""

from __future__ import annotations

import re
from pathlib import Path

EDGE = Path(__file__).resolve().parent.parent / "edge"
SOURCES = sorted(
    p for ext in ("pyx", "pxd", "pxi") for p in EDGE.glob(f"_*.{ext}")
)  # fmt: skip

# CPython internals that break between versions: private functions and struct fields,
# re-declared private structs, refcount games, and Cython's no_gc on types that hand out
# mutable containers. None of them has a place in an accelerator (docs/sipparse.md).
FORBIDDEN = re.compile(r"_Py|ob_refcnt|m_self|PyDictKeysObject|ma_keys|no_gc")


def test_sources_found() -> None:
    names = {p.name for p in SOURCES}
    assert {"_sipparse.pyx", "_sipparse.pxd", "_sipparse_scanner.pxi"} <= names
    assert {"_fastrender.pyx", "_httphead.pyx"} <= names


def test_no_private_cpython_api() -> None:
    found = [
        f"{path.name}:{number}: {line.strip()}"
        for path in SOURCES
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if FORBIDDEN.search(line)
    ]
    assert found == []


def test_forbidden_pattern_catches_each_name() -> None:
    for text in ("_PyDict_NewPresized(n)", "o->ob_refcnt", "f->m_self = x",
                 "PyDictKeysObject *k", "mp->ma_keys", "@cython.no_gc"):  # fmt: skip
        assert FORBIDDEN.search(text), text
    assert not FORBIDDEN.search("Py_ssize_t PyDict_Copy PyUnicode_New")


def test_every_topic_is_included_once_and_mirrored_by_the_twin() -> None:
    main = (EDGE / "_sipparse.pyx").read_text()
    included = re.findall(r'^include "(_sipparse_(\w+)\.pxi)"', main, re.MULTILINE)
    topics = sorted(p.name for p in EDGE.glob("_sipparse_*.pxi"))
    assert sorted(name for name, _ in included) == topics
    twin = {p.stem for p in (EDGE / "_sipparse_py").glob("*.py")} - {"__init__"}
    assert {topic for _, topic in included} == twin
