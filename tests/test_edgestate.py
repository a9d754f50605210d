"""The edge-state layout (provedge/formats/edgestate.py) and the worker-to-writer batches."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.state import batch
from provedge.formats import edgestate
from provedge.formats.edgestate import NO_FETCH, Fetch

IP4 = edgestate.pack_ip("192.0.2.7")


def test_record_round_trips() -> None:
    fetch = Fetch(3, 1_764_000_000_123_456, IP4, b"Yealink SIP-T46S 66.86.0.15")
    raw = edgestate.encode_fetch(fetch)
    assert raw[0] == edgestate.VERSION
    assert edgestate.decode_fetch(raw) == fetch
    assert edgestate.decode_fetch(memoryview(raw)) == fetch
    assert edgestate.record_size(raw) == len(raw)


def test_long_user_agent_is_truncated() -> None:
    raw = edgestate.encode_fetch(Fetch(1, 1, IP4, b"x" * 1000))
    assert edgestate.decode_fetch(raw).user_agent == b"x" * edgestate.MAX_USER_AGENT


@pytest.mark.parametrize(
    "raw",
    [b"", b"\x02" + bytes(33), edgestate.encode_fetch(Fetch(1, 1, IP4, b"abc"))[:-1]],
    ids=["empty", "other version", "truncated"],
)
def test_bad_records_are_refused(raw: bytes) -> None:
    with pytest.raises(ValueError):
        edgestate.decode_fetch(raw)


def test_merge_adds_counts_and_keeps_the_latest_fetch() -> None:
    early = Fetch(2, 100, edgestate.pack_ip("10.0.0.1"), b"early")
    late = Fetch(5, 200, edgestate.pack_ip("10.0.0.2"), b"late")
    assert edgestate.merge(early, late) == Fetch(7, 200, late.ip, b"late")
    # the order batches arrive in does not matter: the later fetch wins by time
    assert edgestate.merge(late, early) == Fetch(7, 200, late.ip, b"late")
    assert edgestate.merge(NO_FETCH, early) == early


@pytest.mark.parametrize(
    ("host", "shown"),
    [
        ("192.0.2.7", "192.0.2.7"),
        ("2001:db8::1", "2001:db8::1"),
        ("::ffff:192.0.2.7", "192.0.2.7"),
        (None, None),
        ("", None),
        ("not an address", None),
    ],
)
def test_addresses(host: str | None, shown: str | None) -> None:
    packed = edgestate.pack_ip(host)
    assert len(packed) == 16
    assert edgestate.unpack_ip(packed) == shown


def test_times_are_iso_utc() -> None:
    assert edgestate.iso_utc(0) is None
    assert edgestate.iso_utc(1_764_581_400_123_456) == "2025-12-01T09:30:00.123Z"


def test_batch_round_trips_and_splits_into_datagrams() -> None:
    items = [(f"001565{i:06x}".encode(), Fetch(i + 1, i, IP4, b"u" * 200)) for i in range(1000)]
    datagrams = list(batch.encode(items))
    assert len(datagrams) > 1
    assert all(len(datagram) <= batch.MAX_DATAGRAM for datagram, _ in datagrams)
    decoded = [item for datagram, _ in datagrams for item in batch.decode(datagram)]
    assert decoded == items
    assert [mac for _, macs in datagrams for mac in macs] == [mac for mac, _ in items]


@pytest.mark.parametrize(
    "datagram",
    [b"nope", batch.MAGIC + b"001565aabbcc", batch.MAGIC + b"001565aabbcc" + b"\x01" * 40],
    ids=["magic", "no record", "truncated record"],
)
def test_malformed_batches_are_refused(datagram: bytes) -> None:
    with pytest.raises(ValueError):
        list(batch.decode(datagram))


def test_fold_merges_per_mac() -> None:
    pending: dict[bytes, Fetch] = {}
    batch.fold(pending, b"a", Fetch(1, 10, IP4, b"one"))
    batch.fold(pending, b"a", Fetch(1, 5, IP4, b"older"))
    batch.fold(pending, b"b", Fetch(1, 7, IP4, b"b"))
    assert pending == {b"a": Fetch(2, 10, IP4, b"one"), b"b": Fetch(1, 7, IP4, b"b")}


def test_one_read_only_handle_per_process_shared_by_its_readers(tmp_path: Path) -> None:
    """LMDB refuses a second open of one environment in a process: the firewall's bans and
    the registrar's bindings borrow one handle, closed when the last lets go."""
    assert edgestate.open_reader(tmp_path, edgestate.BANS_DB) is None  # no writer yet
    writer = edgestate.open_env(tmp_path)
    with writer.begin(write=True) as txn:
        for name in edgestate.DATABASES:
            writer.open_db(name, txn=txn)
    writer.close()
    bans = edgestate.open_reader(tmp_path, edgestate.BANS_DB)
    held = edgestate.open_reader(tmp_path, edgestate.BINDINGS_DB)
    assert bans is not None and held is not None and bans[0] is held[0]
    edgestate.close_reader(bans[0])
    with held[0].begin(db=held[1]) as txn:  # still open for the other reader
        assert txn.stat(held[1])["entries"] == 0
    edgestate.close_reader(held[0])
    again = edgestate.open_reader(tmp_path, edgestate.BANS_DB)
    assert again is not None and again[0] is not bans[0]  # a fresh one after the last close
    edgestate.close_reader(again[0])
