"""The LMDB layout both sides share: environment, sub-databases, keys and blob format.

This is the one module through which control/ and edge/ agree on bytes (DESIGN.md,
"shared formats live in one small module that both import").

A blob is stored with its response headers precomputed at publish time so the edge's hot
path only slices it:

    b"PE1" | u16 len(etag) | u16 len(content_type) | etag | content_type | body
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from pathlib import Path

import lmdb

from provedge.private import FILE_MODE, private_dir, tighten_files

BLOBS_DB = b"blobs"  # {tenant_key}/{file name, lowercased} -> blob
INDEX_DB = b"index"  # device/{mac} or tenant/{id} -> keys it published (orjson list)
# b"generation" -> u64 generation | f64 at: bumped by every publish transaction, with its
# time (seconds since the epoch); a reader sees the number of the state it reads.
META_DB = b"meta"
GENERATION_KEY = b"generation"
MAP_SIZE = 1 << 34  # 16 GiB of address space; LMDB grows the file only as data arrives
MAX_DBS = 16

_MAGIC = b"PE1"
_HEADER = struct.Struct("<3sHH")
_GENERATION = struct.Struct("<Qd")


def open_env(data_dir: str | Path, readonly: bool = False) -> lmdb.Environment:
    private_dir(data_dir)
    path = private_dir(Path(data_dir) / "lmdb")
    # readahead off: blobs are read at random, and readahead wastes page cache on big envs.
    # mode: data.mdb and lock.mdb hold every password, owner-only (provedge/private.py).
    env = lmdb.open(
        str(path),
        map_size=MAP_SIZE,
        max_dbs=MAX_DBS,
        readahead=False,
        readonly=readonly,
        mode=FILE_MODE,
    )
    if not readonly:
        tighten_files(path)  # files an older version made with 0644
    return env


def blob_key(tenant_key: str, file_name: str) -> bytes:
    """Keys are case-insensitive in the file name: phones differ in MAC case (vendors.md)."""
    return f"{tenant_key}/{file_name.lower()}".encode()


def make_etag(body: bytes) -> bytes:
    return b'"' + hashlib.blake2b(body, digest_size=12).hexdigest().encode() + b'"'


def encode_blob(content_type: str, body: bytes) -> bytes:
    etag = make_etag(body)
    ctype = content_type.encode()
    return _HEADER.pack(_MAGIC, len(etag), len(ctype)) + etag + ctype + body


@dataclass(frozen=True, slots=True)
class Blob:
    etag: bytes
    content_type: bytes
    body: bytes


def decode_blob(raw: bytes | memoryview) -> Blob:
    magic, etag_len, ctype_len = _HEADER.unpack_from(raw)
    if magic != _MAGIC:
        raise ValueError("not a provedge blob")
    start = _HEADER.size
    etag_end = start + etag_len
    body_start = etag_end + ctype_len
    return Blob(
        bytes(raw[start:etag_end]), bytes(raw[etag_end:body_start]), bytes(raw[body_start:])
    )


def head_of(raw: bytes | memoryview) -> bytes:
    """A blob's bytes before its body (magic, lengths, ETag, content type): equal heads
    and lengths mean the same blob, since the ETag is a hash of the body."""
    _, etag_len, ctype_len = _HEADER.unpack_from(raw)
    return bytes(raw[: _HEADER.size + etag_len + ctype_len])


def encode_generation(generation: int, at: float) -> bytes:
    return _GENERATION.pack(generation, at)


def decode_generation(raw: bytes | memoryview | None) -> tuple[int, float]:
    """(generation, time of its publish); (0, 0.0) before the first publish."""
    if raw is None:
        return 0, 0.0
    generation, at = _GENERATION.unpack(bytes(raw))
    return int(generation), float(at)
