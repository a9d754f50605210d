"""The LMDB publisher against a real LMDB environment."""

from collections.abc import Iterator
from pathlib import Path

import lmdb
import pytest

from control.publish.publisher import LmdbPublisher, Publication
from provedge.formats import store


@pytest.fixture
def env(tmp_path: Path) -> Iterator[lmdb.Environment]:
    environment = store.open_env(tmp_path)
    yield environment
    environment.close()


def _read(env: lmdb.Environment) -> dict[bytes, bytes]:
    with env.begin(db=env.open_db(store.BLOBS_DB)) as txn:
        return dict(txn.cursor().iternext())


def test_publish_replaces_an_owner_set_and_drops_stale_files(env: lmdb.Environment) -> None:
    pub = LmdbPublisher(env)
    pub.publish([Publication("device/a", {b"k/a.cfg": b"1", b"k/a.boot": b"2"})])
    pub.publish([Publication("device/a", {b"k/a.cfg": b"3"})])
    assert _read(env) == {b"k/a.cfg": b"3"}
    assert list(pub.owners()) == ["device/a"]


def test_withdraw_removes_every_file_and_the_owner(env: lmdb.Environment) -> None:
    pub = LmdbPublisher(env)
    pub.publish(
        [Publication("device/a", {b"k/a.cfg": b"1"}), Publication("device/b", {b"k/b.cfg": b"2"})]
    )
    pub.publish([Publication("device/a", {})])
    assert _read(env) == {b"k/b.cfg": b"2"}
    assert list(pub.owners()) == ["device/b"]


def test_publishing_twice_is_idempotent(env: lmdb.Environment) -> None:
    pub = LmdbPublisher(env)
    batch = [Publication("tenant/1", {b"k/cfg.xml": b"x"})]
    pub.publish(batch)
    pub.publish(batch)
    assert _read(env) == {b"k/cfg.xml": b"x"}


def test_a_failing_batch_writes_nothing(env: lmdb.Environment) -> None:
    pub = LmdbPublisher(env)
    pub.publish([Publication("device/a", {b"k/a.cfg": b"old"})])

    def batch() -> Iterator[Publication]:
        yield Publication("device/a", {b"k/a.cfg": b"new"})
        raise RuntimeError("compiler died mid-batch")

    with pytest.raises(RuntimeError):
        pub.publish(batch())
    assert _read(env) == {b"k/a.cfg": b"old"}
