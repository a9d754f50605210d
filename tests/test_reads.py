"""One read transaction of the published LMDB a turn of the loop (edge/http/reads.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import lmdb

from edge.http.reads import Reads


def open_env(tmp_path: Path) -> lmdb.Environment:
    env = lmdb.open(str(tmp_path / "lmdb"), max_dbs=4, map_size=1 << 24)
    with env.begin(write=True) as txn:
        txn.put(b"k", b"1")
    return env


def put(env: lmdb.Environment, value: bytes, db: object = None) -> None:
    with env.begin(write=True, db=db) as txn:
        txn.put(b"k", value)


def test_a_turn_shares_one_transaction_and_the_next_sees_a_commit(tmp_path: Path) -> None:
    env = open_env(tmp_path)
    reads = Reads(env)

    async def main() -> list[bytes]:
        seen = []
        txn = reads.txn()
        assert reads.txn() is txn  # the same turn
        seen.append(bytes(txn.get(b"k")))
        put(env, b"2")  # a publisher's commit, mid-turn
        seen.append(bytes(reads.txn().get(b"k")))  # this turn's snapshot still
        await asyncio.sleep(0)  # the turn ends
        assert reads.txn() is not txn
        seen.append(bytes(reads.txn().get(b"k")))
        return seen

    assert asyncio.run(main()) == [b"1", b"1", b"2"]
    env.close()


def test_without_a_loop_each_call_gets_its_own(tmp_path: Path) -> None:
    env = open_env(tmp_path)
    reads = Reads(env)
    first = reads.txn()
    assert bytes(first.get(b"k")) == b"1"
    put(env, b"2")
    assert bytes(reads.txn().get(b"k")) == b"2"
    env.close()


def test_a_sub_database_published_mid_turn_is_readable_at_once(tmp_path: Path) -> None:
    """LMDB lets no transaction begun before a handle was opened read through it: opening
    one ends the turn's transaction, and the next read begins one that can."""
    env = open_env(tmp_path)
    reads = Reads(env)

    async def main() -> bytes | None:
        reads.txn().get(b"k")  # the turn's transaction is begun
        assert reads.open_db(b"rules") is None  # not published yet
        put(env, b"rule", env.open_db(b"rules"))
        handle = reads.open_db(b"rules")
        assert handle is not None
        raw = reads.txn().get(b"k", db=handle)
        return None if raw is None else bytes(raw)

    assert asyncio.run(main()) == b"rule"
    env.close()
