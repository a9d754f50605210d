"""The edge-state writer as a real process with a real LMDB: merge, restart, modes."""

from __future__ import annotations

import os
import signal
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from control.storage.edgestate import EdgeStateReader, fetch_view
from edge.state import recorder as recorder_module
from edge.state.recorder import Recorder
from edge.state.writer import WriterProcess
from provedge.formats import edgestate

T = TypeVar("T")
DEADLINE = 15.0
MAC = "001565aabbcc"
UA = b"Yealink SIP-T46S 66.86.0.15"


def poll(read: Callable[[], T], done: Callable[[T], bool], what: str) -> T:
    """Read until ``done`` says yes, or fail at the deadline: no sleeping on faith."""
    deadline = time.monotonic() + DEADLINE
    while True:
        value = read()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: still {value!r} after {DEADLINE}s")
        time.sleep(0.02)


def writer_pid(data: Path) -> int | None:
    try:
        return int((edgestate.env_path(data) / edgestate.PID_NAME).read_text())
    except (FileNotFoundError, ValueError):
        return None


def send_all(recorder: Recorder) -> None:
    poll(lambda: (recorder.flush(), recorder.pending)[1], lambda n: n == 0, "pending fetches")


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def recorders(data: Path) -> Iterator[Callable[..., Recorder]]:
    made: list[Recorder] = []

    def make(**options: int) -> Recorder:
        made.append(Recorder(edgestate.socket_path(data), **options))
        return made[-1]

    yield make
    for recorder in made:
        recorder.close()


@pytest.fixture
def writer(data: Path) -> Iterator[WriterProcess]:
    process = WriterProcess(data).start()
    poll(lambda: writer_pid(data), lambda pid: pid == process.pid, "writer ready")
    yield process
    process.stop()


def test_reader_copes_with_no_edge_state(data: Path) -> None:
    reader = EdgeStateReader(data)
    assert reader.fetches([MAC]) == {}
    assert fetch_view(reader.fetch(MAC)) == {
        "provision_count": 0,
        "last_fetch_at": None,
        "last_fetch_ip": None,
        "last_user_agent": None,
    }
    assert not edgestate.env_path(data).exists()  # reading never creates it


def test_batches_from_two_workers_add_up(
    data: Path,
    writer: WriterProcess,
    recorders: Callable[..., Recorder],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first, second = recorders(), recorders()
    clock = iter([1000.0, 1001.0, 1002.0, 3000.0, 2000.0, 2001.0])
    monkeypatch.setattr(recorder_module, "_now", lambda: next(clock))
    for host in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
        first.fetch(MAC, (host, 5000), UA)
    second.fetch(MAC, ("10.0.0.9", 5000), b"latest")  # at 3000: latest
    second.fetch(MAC, ("10.0.0.4", 5000), UA)
    second.fetch("0004f2000001", ("2001:db8::1", 5000), None)
    send_all(second)  # the latest fetch reaches the writer first
    send_all(first)
    reader = EdgeStateReader(data)
    fetches = poll(
        lambda: reader.fetches([MAC, "0004f2000001", "0004f2000002"]),
        lambda f: MAC in f and f[MAC].count == 5,
        "merged count",
    )
    assert fetch_view(fetches[MAC]) == {
        "provision_count": 5,
        "last_fetch_at": "1970-01-01T00:50:00.000Z",
        "last_fetch_ip": "10.0.0.9",
        "last_user_agent": "latest",
    }
    assert fetch_view(fetches["0004f2000001"])["last_fetch_ip"] == "2001:db8::1"
    assert "0004f2000002" not in fetches
    assert first.stats() == {"noted": 3, "pending": 0, "sent": 1, "dropped": 0}
    reader.close()


def test_a_killed_writer_is_restarted_and_nothing_pending_is_lost(
    data: Path, writer: WriterProcess, recorders: Callable[..., Recorder]
) -> None:
    recorder = recorders()
    reader = EdgeStateReader(data)
    recorder.fetch(MAC, ("10.0.0.1", 5000), UA)
    send_all(recorder)
    poll(lambda: reader.fetch(MAC).count, lambda n: n == 1, "first count")
    old = writer.pid
    assert old is not None
    os.kill(old, signal.SIGKILL)
    # Once it is gone (reaped): what a dying writer had queued is lost, nothing after it.
    poll(lambda: Path(f"/proc/{old}").exists(), lambda alive: not alive, "old writer gone")
    for _ in range(4):  # noted while the writer is away: they stay pending in the worker
        recorder.fetch(MAC, ("10.0.0.2", 5000), UA)
    recorder.flush()
    poll(lambda: writer_pid(data), lambda pid: pid not in (None, old), "restarted writer")
    assert writer.restarts == 1
    send_all(recorder)
    assert poll(lambda: reader.fetch(MAC).count, lambda n: n == 5, "count after restart") == 5
    assert recorder.dropped == 0
    reader.close()


def test_pending_is_bounded_when_no_writer_listens(recorders: Callable[..., Recorder]) -> None:
    recorder = recorders(max_pending=2)
    for mac in ("001565000001", "001565000002", "001565000003", "001565000001"):
        recorder.fetch(mac, None, None)
    recorder.flush()
    assert recorder.stats() == {"noted": 4, "pending": 2, "sent": 0, "dropped": 1}


def test_stop_commits_what_the_workers_sent_last(data: Path) -> None:
    process = WriterProcess(data, interval=30.0).start()  # no commit before the stop
    poll(lambda: writer_pid(data), lambda pid: pid == process.pid, "writer ready")
    recorder = Recorder(edgestate.socket_path(data))
    recorder.fetch(MAC, ("10.0.0.1", 5000), UA)
    recorder.stop()
    process.stop()
    assert EdgeStateReader(data).fetch(MAC).count == 1
    assert not edgestate.socket_path(data).exists()


def test_edge_state_is_private(data: Path, writer: WriterProcess) -> None:
    old = os.umask(0)
    try:
        path = edgestate.env_path(data)
        assert stat.S_IMODE(path.stat().st_mode) == 0o700
        for entry in path.iterdir():
            assert stat.S_IMODE(entry.stat().st_mode) == 0o600, entry.name
        assert stat.S_ISSOCK(edgestate.socket_path(data).stat().st_mode)
    finally:
        os.umask(old)
