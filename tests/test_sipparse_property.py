"""Property tests: the compiled parser and its twin agree on everything, byte for byte.

Agreement covers every field, every error (status, reason and offset), the serialised
form and stream framing with the input split anywhere.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import edge._sipparse
import edge._sipparse_py
from edge.sipdefs import HEADER_NAMES, SipParseError
from tests.sipfixtures import corpus, error, outcome, stream_outcome

CORPUS = corpus()
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Bytes that matter to the grammar, so that mutations hit interesting paths.
SPECIAL = list(b' \t\r\n;,:=<>"\\@?&%[]/*.0123456789aZ\x00\x80\xff')


def agree(data: bytes) -> None:
    assert outcome(edge._sipparse_py, data) == outcome(edge._sipparse, data)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(CORPUS)))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["set", "insert", "delete", "dup", "cut"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "set" and data:
            data[at] = draw(st.sampled_from(SPECIAL))
        elif kind == "insert":
            data[at:at] = bytes(draw(st.lists(st.sampled_from(SPECIAL), min_size=1, max_size=4)))
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 8))]
        elif kind == "dup":
            end = data.find(b"\r\n", at)
            if end > 0:
                data[at:at] = data[at : end + 2]
        else:
            del data[at:]
    return bytes(data)


TOKENS = st.sampled_from(
    [
        "sip:a@b",
        "<sip:u:p@[::1]:5060;lr;transport=tcp?h=v&x=y>",
        '"N \\"q\\"" <sips:x@y>',
        "tel:+123;ext=1",
        "SIP/2.0/UDP h:1;branch=z9hG4bK1;rport;received=1.2.3.4",
        "SIP / 2.0 / TCP h ; rport = 99",
        'Digest username="u", realm=r, nc=01',
        'ua-profile;profile-type="device";vendor=v',
        "*",
        "0",
        "70",
        "1 INVITE",
        "4294967296",
        ";;",
        ",",
        ", ",
        "\r\n ",
        "%41%zz",
        'x;q=0.5;expires=30;reg-id=1;+sip.instance="<urn:x>"',
        "",
    ]
)


@st.composite
def generated(draw: st.DrawFn) -> bytes:
    """A message assembled from grammar pieces: mostly well-formed, often subtly not."""
    if draw(st.booleans()):
        start = "INVITE " + draw(st.sampled_from(["sip:a@b", "tel:1", "x:y", "sip:%41@h:1"]))
        start += " SIP/2.0"
    else:
        start = "SIP/2.0 " + draw(st.sampled_from(["200 OK", "100 ", "999 X", "180"]))
    lines = [start]
    for _ in range(draw(st.integers(0, 8))):
        name = draw(st.sampled_from(list(HEADER_NAMES[1:]) + ["v", "m", "l", "X-Y", "t", "i"]))
        value = "".join(draw(st.lists(TOKENS, min_size=1, max_size=3)))
        lines.append(f"{name}: {value}")
    body = draw(st.binary(max_size=20))
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@SETTINGS
@given(mutated())
def test_agree_on_mutated_corpus(data: bytes) -> None:
    agree(data)


@SETTINGS
@given(generated())
def test_agree_on_generated_messages(data: bytes) -> None:
    agree(data)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300))
def test_agree_on_random_bytes(data: bytes) -> None:
    agree(b"OPTIONS sip:a@b SIP/2.0\r\n" + data)
    agree(data)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(mutated(), generated()), st.lists(st.integers(0, 2000), max_size=6))
def test_agree_on_split_streams(data: bytes, cuts: list[int]) -> None:
    stream = data + data
    points = sorted({c % (len(stream) + 1) for c in cuts})
    chunks = [stream[a:b] for a, b in zip([0, *points], [*points, len(stream)])]
    py = stream_outcome(edge._sipparse_py, chunks)
    assert py == stream_outcome(edge._sipparse, chunks)
    assert py == stream_outcome(edge._sipparse_py, [stream])  # splitting changes nothing


def _framed(mod: ModuleType, chunks: list[bytes]) -> list[Any]:
    parser = mod.StreamParser()
    out: list[Any] = []
    try:
        for chunk in [*chunks, b""]:
            out.extend((m.to_bytes(), m.body) for m in parser.feed(chunk))
    except SipParseError as exc:
        out.append(error(exc))
    return out


def test_every_corpus_message_split_at_every_offset() -> None:
    for data in CORPUS:
        stream = data + b"\r\n" + data
        whole = _framed(edge._sipparse_py, [stream])
        assert whole == _framed(edge._sipparse, [stream])
        for cut in range(1, len(stream)):
            chunks = [stream[:cut], stream[cut:]]
            assert _framed(edge._sipparse, chunks) == whole, cut
            if cut % 7 == 0:  # the twin is slower; every 7th offset keeps the test quick
                assert _framed(edge._sipparse_py, chunks) == whole, cut
