"""The edge-state layout both sides agree on: environment, sub-databases, record format.

Edge state is what the edge learns from phones (fetch counters, SIP bindings) and the
firewall's bans. It lives in its own LMDB environment, ``DATA/edge-state/``, apart from the
published blobs in ``DATA/lmdb/``: the control plane's publisher and the edge's writer each
hold the write lock of their own environment and never wait for each other. The edge's one
writer process per host writes it (docs/edge-state.md); the control plane opens it
read-only for its views.

``fetches``: key = the MAC as 12 lowercase hex ASCII bytes (the notation SQLite keeps, so
a key range matches a page of devices ordered by MAC), value = a versioned record::

    u8 version (1) | u64 count | u64 last fetch, microseconds since the epoch (UTC)
    | 16 bytes last source address (IPv6; IPv4 mapped as ::ffff:a.b.c.d; zeros unknown)
    | u8 len(user agent) | user agent bytes (truncated to 255)

``bindings`` (provedge/formats/bindings.py) and ``bans`` (provedge/formats/bans.py) hold
the registrar's bindings and the firewall's bans; ``nonces`` is created empty and unused,
because digest nonces are verified statelessly (edge/sip/digest.py).
"""

from __future__ import annotations

import os
import socket
import struct
import threading
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import lmdb

ENV_DIR = "edge-state"  # below the data directory
SOCKET_NAME = "writer.sock"  # the writer's Unix datagram socket, inside ENV_DIR
PID_NAME = "writer.pid"  # the running writer's pid, inside ENV_DIR
FETCHES_DB = b"fetches"  # mac -> fetch record
BINDINGS_DB = b"bindings"  # SIP registrations (provedge/formats/bindings.py)
BANS_DB = b"bans"  # banned source addresses (provedge/formats/bans.py)
NONCES_DB = b"nonces"  # unused: digest nonces stay stateless (edge/sip/digest.py)
NOTIFIES_DB = b"notifies"  # outcomes of reboot/re-sync NOTIFYs (provedge/formats/reboots.py)
DATABASES = (FETCHES_DB, BINDINGS_DB, BANS_DB, NONCES_DB, NOTIFIES_DB)
MAP_SIZE = 1 << 32  # 4 GiB of address space; a million phones' fetch records take ~0.3 GB
MAX_DBS = 8
MAX_USER_AGENT = 255

VERSION = 1
_RECORD = struct.Struct("<BQQ16sB")
_NO_IP = bytes(16)
_V4_PREFIX = bytes(10) + b"\xff\xff"  # IPv4-mapped IPv6 (RFC 4291)


@dataclass(frozen=True, slots=True)
class Fetch:
    """What is known about one MAC's fetches: how many, and the latest one's details."""

    count: int
    at_us: int  # latest fetch, microseconds since the epoch
    ip: bytes  # 16 bytes, see pack_ip
    user_agent: bytes


NO_FETCH = Fetch(0, 0, _NO_IP, b"")


def merge(old: Fetch, new: Fetch) -> Fetch:
    """Counts add up; the last-* fields come from whichever fetch is later (ties: ``new``)."""
    latest = new if new.at_us >= old.at_us else old
    return replace(latest, count=old.count + new.count)


def encode_fetch(fetch: Fetch) -> bytes:
    ua = fetch.user_agent[:MAX_USER_AGENT]
    return _RECORD.pack(VERSION, fetch.count, fetch.at_us, fetch.ip, len(ua)) + ua


def decode_fetch(raw: bytes | memoryview) -> Fetch:
    """The record at the start of ``raw``; ValueError for another version or a short record."""
    if len(raw) < _RECORD.size or raw[0] != VERSION:
        raise ValueError("not a version-1 fetch record")
    _, count, at_us, ip, ua_len = _RECORD.unpack_from(raw)
    end = _RECORD.size + ua_len
    if len(raw) < end:
        raise ValueError("truncated fetch record")
    return Fetch(count, at_us, ip, bytes(raw[_RECORD.size : end]))


_STAMP = struct.Struct("<QQ")  # count, at_us: right after the version byte


def decode_stamp(raw: bytes | memoryview) -> tuple[int, int] | None:
    """``(count, at_us)`` of a record without decoding the rest; None for another version."""
    if len(raw) < _RECORD.size or raw[0] != VERSION:
        return None
    count, at_us = _STAMP.unpack_from(raw, 1)
    return count, at_us


def record_size(raw: bytes | memoryview, offset: int = 0) -> int:
    """The length of the encoded record that starts at ``offset``; ValueError if cut short."""
    if len(raw) < offset + _RECORD.size:
        raise ValueError("truncated fetch record")
    return _RECORD.size + raw[offset + _RECORD.size - 1]


def pack_ip(host: str | None) -> bytes:
    """16 bytes for an IPv4 or IPv6 address text; zeros for anything else (unix socket)."""
    if host:
        try:
            if ":" in host:
                return socket.inet_pton(socket.AF_INET6, host)
            return _V4_PREFIX + socket.inet_pton(socket.AF_INET, host)
        except OSError:
            pass
    return _NO_IP


def unpack_ip(packed: bytes) -> str | None:
    if packed == _NO_IP:
        return None
    if packed[:12] == _V4_PREFIX:
        return socket.inet_ntoa(packed[12:])
    return socket.inet_ntop(socket.AF_INET6, packed)


def iso_utc(at_us: int) -> str | None:
    """ISO 8601 in UTC with milliseconds (``2026-12-01T09:30:00.123Z``); None for never."""
    if not at_us:
        return None
    moment = datetime.fromtimestamp(at_us / 1e6, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def env_path(data_dir: str | Path) -> Path:
    return Path(data_dir) / ENV_DIR


def socket_path(data_dir: str | Path) -> Path:
    return env_path(data_dir) / SOCKET_NAME


def open_env(data_dir: str | Path, readonly: bool = False) -> lmdb.Environment:
    """The edge-state environment; read-only never creates it (FileNotFoundError instead).

    The directory is 0700 and the files 0600 whatever the umask: they say which phone
    fetched from where, and the socket inside accepts counter updates.
    """
    path = env_path(data_dir)
    if readonly:
        if not (path / "data.mdb").exists():
            raise FileNotFoundError(f"no edge state at {path} yet")
    else:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(path, 0o700)
    env = lmdb.open(
        str(path), map_size=MAP_SIZE, max_dbs=MAX_DBS, readahead=False, readonly=readonly,
        mode=0o600,
    )  # fmt: skip
    if not readonly:
        for name in ("data.mdb", "lock.mdb"):
            os.chmod(path / name, 0o600)
    return env


# LMDB refuses to open one environment twice in a process, and a worker reads the edge
# state from several places (the firewall's bans, the registrar's bindings): they share
# one read-only handle, closed when the last of them lets go.
_readers: dict[Path, list[Any]] = {}  # path -> [environment, holders]
_readers_lock = threading.Lock()


def open_reader(data_dir: str | Path, db_name: bytes) -> tuple[lmdb.Environment, Any] | None:
    """This process's read-only handle on the edge state and its sub-database
    ``db_name``, or None while the writer has not created them (try again later)."""
    path = env_path(data_dir).resolve()
    with _readers_lock:
        held = _readers.get(path)
        if held is None:
            try:
                held = [open_env(data_dir, readonly=True), 0]
            except (FileNotFoundError, lmdb.Error):
                return None
            _readers[path] = held
        env = held[0]
        try:
            db = env.open_db(db_name, create=False)
        except lmdb.Error:  # the writer has not created its databases yet
            if held[1] == 0:
                env.close()
                del _readers[path]
            return None
        held[1] += 1
        return env, db


def close_reader(env: lmdb.Environment) -> None:
    with _readers_lock:
        for path, held in list(_readers.items()):
            if held[0] is env:
                held[1] -= 1
                if held[1] <= 0:
                    env.close()
                    del _readers[path]
                return
