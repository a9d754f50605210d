"""Micro-benchmarks of the SIP parser, compiled vs twin (pytest-benchmark).

Run: .venv/bin/python -m pytest benchmarks/bench_sipparse.py --benchmark-enable --benchmark-only

Each call parses one real message and reads every field of the issue's API (the
structured ones build all their sub-objects when first read); ``scan`` calls parse only.
A round times many calls in a row (``min_time``), so that the two clock reads around it
do not count as parsing time (with one call per round they added ~0.1 us to 2.5 us).
messages/s = 1 / time per call.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import edge._sipparse
import edge._sipparse_py

PHONES = Path(__file__).parent.parent / "tests" / "data" / "sip" / "phones"
REGISTER = (PHONES / "register_polycom_spip550.txt").read_bytes()  # 725 bytes, digest auth
SUBSCRIBE = (PHONES / "pnp_subscribe_grandstream_GRP2612W.txt").read_bytes()  # PnP ua-profile
IMPLS = {"c": edge._sipparse, "py": edge._sipparse_py}


def parse_and_read_all(parse: Callable[[bytes], Any], data: bytes) -> tuple[Any, ...]:
    """Parses ``data`` and reads every Message field named in the issue, plus one read into
    each structured value (one function: a wrapper around it would add a Python call)."""
    msg = parse(data)
    uri = msg.uri
    via = msg.via
    cseq = msg.cseq
    auth = msg.authorization
    event = msg.event
    return (
        msg.is_request,
        msg.method,
        uri.user,
        uri.host,
        msg.status,
        msg.reason,
        msg.version,
        via[0].branch,
        msg.from_.tag,
        msg.to.uri.user,
        msg.contacts,
        msg.call_id,
        cseq.number,
        msg.max_forwards,
        msg.expires,
        msg.content_length,
        msg.body,
        None if event is None else event.params,
        None if auth is None else auth.params,
        msg.header("User-Agent"),
        msg.header_values("Allow"),
    )


ROUNDS = pytest.mark.benchmark(min_time=0.0002)


@ROUNDS
@pytest.mark.parametrize("impl", ["c", "py"])
@pytest.mark.parametrize("message", ["register", "subscribe"])
def test_parse_all_fields(benchmark: Any, impl: str, message: str) -> None:
    data = REGISTER if message == "register" else SUBSCRIBE
    benchmark.group = f"sip {message}: parse + all fields"
    result = benchmark(parse_and_read_all, IMPLS[impl].parse, data)
    assert result[1] in ("REGISTER", "SUBSCRIBE")


@ROUNDS
@pytest.mark.parametrize("impl", ["c", "py"])
def test_scan_only(benchmark: Any, impl: str) -> None:
    benchmark.group = "sip register: scan only (lazy fields unread)"
    msg = benchmark(IMPLS[impl].parse, REGISTER)
    assert msg.is_request
