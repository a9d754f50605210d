"""Training run for the profile-guided build of the compiled SIP parser (`make pgo`).

GCC builds the parser once with -fprofile-generate, this script runs it, and GCC builds it
again with -fprofile-use: the counts tell it which paths are hot, so it lays those out
together and moves error paths aside. The parse of a REGISTER with every field read walks
through some 50 KiB of machine code (parser and interpreter), more than the 32 KiB
instruction cache, and the tighter layout makes it ~10% faster (docs/sipparse.md).

The workload is the whole test corpus, not the benchmark's message: every RFC 4475 torture
message and real phone capture, valid or not, parsed as a datagram and as a stream split
in two, with every field, header and serialisation read. The phone captures count ten
times: an edge's traffic is well-formed phone messages, and the 49 torture messages would
otherwise make up four fifths of the profile and have their rare paths laid out as hot.
A profile changes only layout and inlining, never behaviour; the test suite runs against
the build this produces.

Run: python benchmarks/pgo_workload.py [ROUNDS]
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import edge._sipparse as sip

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "sip"
MESSAGE_FIELDS = (
    "is_request", "method", "uri", "status", "reason", "version", "via", "from_", "to",
    "contacts", "contact_star", "call_id", "cseq", "max_forwards", "expires",
    "content_length", "body", "event", "authorization",
)  # fmt: skip
OBJECT_FIELDS = {
    "Uri": ("scheme", "user", "password", "host", "port", "params", "headers", "text"),
    "Address": ("display_name", "uri", "tag", "expires", "q", "instance", "reg_id", "params"),
    "Via": ("protocol", "transport", "host", "port", "branch", "received", "rport", "params"),
    "CSeq": ("number", "method"),
    "Event": ("package", "params"),
    "Auth": ("scheme", "params"),
}
HEADERS = ("Via", "Contact", "Allow", "Supported", "User-Agent", "Accept", "X-Unknown")


PHONE_WEIGHT = 10  # rounds of the phone captures per round of the torture messages


def corpus() -> list[bytes]:
    torture = sorted((DATA / "rfc4475").glob("*.dat"))
    phones = sorted((DATA / "phones").glob("*.txt"))
    return [f.read_bytes() for f in torture + phones * PHONE_WEIGHT]


def values(obj: Any) -> Iterator[Any]:
    """Every field of a parsed value, and of the values inside it."""
    if isinstance(obj, list):
        for item in obj:
            yield from values(item)
        return
    for name in OBJECT_FIELDS.get(type(obj).__name__, ()):
        value = getattr(obj, name)
        yield value
        yield from values(value)


def read_everything(msg: Any) -> int:
    count = 0
    for name in MESSAGE_FIELDS:
        try:
            count += sum(1 for _ in values(getattr(msg, name)))
        except sip.SipParseError:
            count += 1  # a malformed structured field fails when read, as it should
    for name in HEADERS:
        count += len(msg.header_values(name)) + (msg.header(name) is not None)
    return count + len(msg.to_bytes())


def train(rounds: int) -> int:
    if sip.__file__.endswith(".py"):
        raise SystemExit("pgo_workload: the compiled parser did not load")
    messages = corpus()
    count = 0
    for _ in range(rounds):
        for data in messages:
            try:
                count += read_everything(sip.parse(data))
            except sip.SipParseError:
                count += 1
            parser = sip.StreamParser()
            try:
                for part in (data[: len(data) // 2], data[len(data) // 2 :], b"\r\n"):
                    count += len(parser.feed(part))
            except sip.SipParseError:
                count += 1
    return count


if __name__ == "__main__":
    print(f"pgo_workload: {train(int(sys.argv[1]) if len(sys.argv) > 1 else 300)} reads")
