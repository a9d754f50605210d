"""atheris fuzz target for the compiled SIP parser (``make fuzz``).

Feeds arbitrary bytes to ``parse`` and, split in two, to ``StreamParser``, then reads
every field and serialises. Only ``SipParseError`` may escape the parser; anything else
(another exception, a crash, a hang, a read past the buffer under ASan) is a finding.
Every message that parses must also survive a round trip through ``to_bytes``.
Run: ``.venv/bin/python fuzz/fuzz_sipparse.py -max_total_time=60``.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import atheris


def _load_parser() -> ModuleType:
    """The sanitized build from PROVEDGE_FUZZ_LIB (``make fuzz``), else the installed one."""
    lib = os.environ.get("PROVEDGE_FUZZ_LIB")
    if not lib:
        from edge import _sipparse as installed

        return installed
    path = next(Path(lib, "edge").glob("_sipparse.*.so"))
    spec = importlib.util.spec_from_file_location("edge._sipparse", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["edge._sipparse"] = module
    spec.loader.exec_module(module)
    return module


with atheris.instrument_imports():
    from edge.sipdefs import MESSAGE_FIELDS, SipParseError

_sipparse = _load_parser()

# The compiled module is not built with libFuzzer coverage, so blind bytes rarely get past
# the start line. Splicing the input into real messages keeps most runs deep in the parser.
_DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "sip"
SEEDS = [p.read_bytes() for p in sorted(_DATA.glob("*/*")) if p.suffix in (".dat", ".txt")]

FIELDS = MESSAGE_FIELDS


def _read_all(msg: _sipparse.Message) -> None:
    for name in FIELDS:
        try:
            getattr(msg, name)
        except SipParseError:
            pass
    for header in ("Via", "Contact", "Accept", "X-Unknown"):
        msg.header(header)
        msg.header_values(header)
    try:
        msg.auth("WWW-Authenticate")
    except SipParseError:
        pass
    wire = msg.to_bytes()
    again = _sipparse.parse(wire)
    if again.to_bytes() != wire:
        raise AssertionError("to_bytes is not stable")


def test_one_input(data: bytes) -> None:
    _exercise(data)
    if len(data) >= 3 and SEEDS:
        seed = SEEDS[data[0] % len(SEEDS)]
        at = (data[1] << 8 | data[2]) % (len(seed) + 1)
        _exercise(seed[:at] + data[3:] + seed[at + len(data) % 4 :])


def _exercise(data: bytes) -> None:
    try:
        msg = _sipparse.parse(data)
    except SipParseError:
        pass
    else:
        _read_all(msg)
    cut = data[0] % (len(data) + 1) if data else 0
    parser = _sipparse.StreamParser()
    try:
        for chunk in (data[:cut], data[cut:], b""):
            for msg in parser.feed(chunk):
                _read_all(msg)
    except SipParseError:
        pass


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
