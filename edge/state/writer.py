"""The one edge-state writer of a host: a process that merges batches and commits them.

Every worker's :class:`edge.state.recorder.Recorder` sends its batches to this process's
Unix datagram socket (``DATA/edge-state/writer.sock``). The writer folds whatever arrives
within ``interval`` seconds per MAC and commits it in one LMDB write transaction (counts
add; the last-* fields come from the latest fetch by time), so one process, not N
workers, holds the environment's write lock, and state such as SIP bindings never splits
across workers.

:class:`WriterProcess` is the edge main process's handle: it starts the writer before
the workers are spawned, restarts it if it dies, and stops it after the workers have
sent their last batch. Run alone, ``python -m edge.state.writer --data DIR`` is the writer.
"""

from __future__ import annotations

import argparse
import fcntl
import logging
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Protocol

import lmdb

from edge.state import bans, batch, bindings, notifies
from provedge.formats import edgestate, firewall, store
from provedge.formats.edgestate import Fetch

DEFAULT_INTERVAL = 0.05  # seconds of batches merged into one write transaction
RESTART_DELAY = 0.5  # seconds between restarts of a writer that keeps dying
LOCK_NAME = "writer.lock"
_RECV_BUFFER = 4 << 20  # asked for; the kernel caps it at net.core.rmem_max

log = logging.getLogger("provedge.edge.state")


class Kind(Protocol):
    """A kind of datagram besides fetch batches, keyed by its 4-byte magic in ``kinds``:
    ``fold`` takes one datagram (ValueError: malformed), ``commit`` writes what was
    folded inside the writer's one write transaction per interval."""

    def fold(self, datagram: bytes) -> None: ...

    def commit(self, txn: lmdb.Transaction) -> bool: ...


def commit_fetches(txn: lmdb.Transaction, db: Any, pending: dict[bytes, Fetch]) -> None:
    """Merge pending fetches into the stored records."""
    for mac, fetch in sorted(pending.items()):
        old = txn.get(mac, db=db)
        merged = fetch if old is None else edgestate.merge(edgestate.decode_fetch(old), fetch)
        txn.put(mac, edgestate.encode_fetch(merged), db=db)


def commit(env: lmdb.Environment, pending: dict[bytes, Fetch]) -> None:
    """Merge pending fetches into the stored records, in one write transaction."""
    fetches = env.open_db(edgestate.FETCHES_DB)
    with env.begin(write=True) as txn:
        commit_fetches(txn, fetches, pending)


class Published:
    """The writer's read-only handle on the published LMDB (firewall settings, manual
    bans, lifts), opened once it and its sub-database exist."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._source: tuple[lmdb.Environment, Any] | None = None

    def __call__(self) -> tuple[lmdb.Environment, Any] | None:
        if self._source is None and (self.data_dir / "lmdb" / "data.mdb").exists():
            env = store.open_env(self.data_dir, readonly=True)
            try:
                self._source = (env, env.open_db(firewall.FIREWALL_DB, create=False))
            except lmdb.Error:  # no control plane has published the firewall yet
                env.close()
        return self._source

    def close(self) -> None:
        if self._source is not None:
            self._source[0].close()


class Writer:
    """The writer's loop, in its own process (one per host: a file lock makes sure)."""

    def __init__(
        self, data_dir: str | Path, socket_path: str | Path | None = None,
        interval: float = DEFAULT_INTERVAL,
    ) -> None:  # fmt: skip
        self.data_dir = Path(data_dir)
        self.socket_path = Path(socket_path or edgestate.socket_path(data_dir))
        self.interval = interval
        self._stop = False
        self._pending: dict[bytes, Fetch] = {}
        self._kinds: dict[bytes, Kind] = {}
        self._published = Published(self.data_dir)

    def run(self) -> None:
        env = edgestate.open_env(self.data_dir)
        with env.begin(write=True) as txn:
            for name in edgestate.DATABASES:
                env.open_db(name, txn=txn)
        self._fetches = env.open_db(edgestate.FETCHES_DB)
        # Every kind of datagram besides fetch batches, by magic (docs/edge-state.md).
        self._kinds = {
            bans.MAGIC: bans.BanKeeper(env.open_db(edgestate.BANS_DB), self._published),
            bindings.MAGIC: bindings.BindingKeeper(env.open_db(edgestate.BINDINGS_DB)),
            notifies.MAGIC: notifies.OutcomeKeeper(env.open_db(edgestate.NOTIFIES_DB)),
        }
        # A second writer on this data dir (an orphan of a killed edge) waits here.
        lock = os.open(self._path(LOCK_NAME), os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(lock, fcntl.LOCK_EX)
        sock = self._bind()
        pid = os.open(self._path(edgestate.PID_NAME), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.write(pid, f"{os.getpid()}\n".encode())
        os.close(pid)
        selector = self._selector(sock)
        try:
            self._loop(env, sock, selector)
        finally:
            for key in list(selector.get_map().values()):
                key.fileobj.close()  # type: ignore[union-attr]
            selector.close()
            self.socket_path.unlink(missing_ok=True)
            self._path(edgestate.PID_NAME).unlink(missing_ok=True)
            self._published.close()
            env.close()
            os.close(lock)

    def _path(self, name: str) -> Path:
        return edgestate.env_path(self.data_dir) / name

    def _selector(self, sock: socket.socket) -> selectors.BaseSelector:
        """Wait on the socket and on a pipe a SIGTERM writes to (so a stop is prompt)."""
        wake_read, wake_write = socket.socketpair()
        selector = selectors.DefaultSelector()
        for item in (sock, wake_read, wake_write):
            item.setblocking(False)
            selector.register(item, selectors.EVENT_READ)  # the write end: to be closed too
        signal.set_wakeup_fd(wake_write.fileno())
        signal.signal(signal.SIGTERM, self._on_term)
        signal.signal(signal.SIGINT, self._on_term)
        return selector

    def _loop(
        self, env: lmdb.Environment, sock: socket.socket, selector: selectors.BaseSelector
    ) -> None:
        """One write transaction per interval until stopped or orphaned, then a last one."""
        parent = os.getppid()
        while not self._stop and os.getppid() == parent:
            deadline = time.monotonic() + self.interval
            while not self._stop and (left := deadline - time.monotonic()) > 0:
                selector.select(left)
                self._gather(sock)
            self._commit(env)
        self._gather(sock)  # what the workers sent last
        self._commit(env)

    def _bind(self) -> socket.socket:
        self.socket_path.unlink(missing_ok=True)  # left by a writer that was killed
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RECV_BUFFER)
        sock.bind(str(self.socket_path))
        os.chmod(self.socket_path, 0o600)
        return sock

    def _on_term(self, signum: int, frame: object) -> None:
        self._stop = True

    def _gather(self, sock: socket.socket) -> None:
        """Fold every datagram waiting on the socket into pending."""
        while True:
            try:
                datagram = sock.recv(batch.MAX_DATAGRAM + 1)
            except (BlockingIOError, InterruptedError):
                return
            try:
                kind = self._kinds.get(datagram[:4])
                if kind is not None:
                    kind.fold(datagram)
                    continue
                for mac, fetch in batch.decode(datagram):
                    batch.fold(self._pending, mac, fetch)
            except ValueError:
                log.warning("edge-state writer: dropped a malformed datagram")

    def _commit(self, env: lmdb.Environment) -> None:
        """One write transaction for everything folded this interval, every kind."""
        pending, self._pending = self._pending, {}
        try:
            with env.begin(write=True) as txn:
                commit_fetches(txn, self._fetches, pending)
                for kind in self._kinds.values():
                    kind.commit(txn)
        except lmdb.Error:
            log.exception("edge-state writer: a batch of %d MACs was lost", len(pending))


class WriterProcess:
    """The edge main process's handle on the writer: start, restart on death, stop."""

    def __init__(
        self, data_dir: str | Path, socket_path: str | Path | None = None,
        interval: float = DEFAULT_INTERVAL,
    ) -> None:  # fmt: skip
        self.data_dir = Path(data_dir).resolve()
        self.socket_path = Path(socket_path or edgestate.socket_path(self.data_dir))
        self.interval = interval
        self.restarts = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()  # no spawn slips in after stop() looked
        self._watcher = threading.Thread(target=self._watch, name="edge-state-writer", daemon=True)

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def start(self) -> WriterProcess:
        if len(os.fsencode(self.socket_path)) > 107:
            raise ValueError(f"socket path too long for a Unix socket: {self.socket_path}")
        edgestate.open_env(self.data_dir).close()  # created here, with its modes, once
        self._spawn()
        self._watcher.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """After the workers are gone: the writer drains its socket, commits, exits."""
        self._stopping.set()
        with self._lock:
            proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._watcher.is_alive():
            self._watcher.join(timeout)

    def _spawn(self) -> None:
        self._proc = subprocess.Popen(
            [
                sys.executable, "-m", "edge.state.writer", "--data", str(self.data_dir),
                "--socket", str(self.socket_path), "--interval", str(self.interval),
            ],
            start_new_session=True,  # a Ctrl-C reaches the edge; the edge stops the writer last
        )  # fmt: skip

    def _watch(self) -> None:
        while not self._stopping.is_set():
            proc = self._proc
            assert proc is not None
            code = proc.wait()
            if self._stopping.wait(RESTART_DELAY):
                return
            with self._lock:
                if self._stopping.is_set():
                    return
                log.warning("edge-state writer exited with %s; restarting it", code)
                self.restarts += 1
                self._spawn()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="the edge-state writer of one host")
    parser.add_argument("--data", required=True)
    parser.add_argument("--socket")
    parser.add_argument("--interval", type=float, default=DEFAULT_INTERVAL)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    Writer(args.data, args.socket, args.interval).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
