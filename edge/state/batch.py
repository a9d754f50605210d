"""The datagram a worker sends the writer: fetch records merged per MAC, framed plainly.

    b"PEB1" | (12 bytes MAC as lowercase hex | fetch record (provedge.formats.edgestate))*

Both ends are the edge's own processes on one host, so this format is not shared with the
control plane; it reuses the stored record so there is one encoding of a fetch.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from provedge.formats.edgestate import Fetch, decode_fetch, encode_fetch, merge, record_size

MAGIC = b"PEB1"
MAC_LEN = 12
MAX_DATAGRAM = 60_000  # well below the default socket buffers (net.core.wmem_default)


def fold(into: dict[bytes, Fetch], mac: bytes, fetch: Fetch) -> None:
    """Merge one MAC's fetches into a pending map (the worker and the writer both do)."""
    old = into.get(mac)
    into[mac] = fetch if old is None else merge(old, fetch)


def encode(items: Iterable[tuple[bytes, Fetch]]) -> Iterator[tuple[bytes, list[bytes]]]:
    """Datagrams of at most MAX_DATAGRAM bytes, each with the MACs it carries."""
    parts, size = [MAGIC], len(MAGIC)
    macs: list[bytes] = []
    for mac, fetch in items:
        record = mac + encode_fetch(fetch)
        if size + len(record) > MAX_DATAGRAM and macs:
            yield b"".join(parts), macs
            parts, macs, size = [MAGIC], [], len(MAGIC)
        parts.append(record)
        macs.append(mac)
        size += len(record)
    if macs:
        yield b"".join(parts), macs


def decode(datagram: bytes) -> Iterator[tuple[bytes, Fetch]]:
    """The records of one datagram; ValueError if it is not one of ours."""
    if not datagram.startswith(MAGIC):
        raise ValueError("not an edge-state batch")
    view, offset = memoryview(datagram), len(MAGIC)
    while offset < len(view):
        start = offset + MAC_LEN
        end = start + record_size(view, start)
        yield bytes(view[offset:start]), decode_fetch(view[start:end])
        offset = end
