"""The reboot sender's view of published targets and the writer's keeping of outcomes,
in-process over real LMDB environments."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lmdb

from control.publish.publisher import LmdbPublisher, Publication
from edge.sip.bindings import Bindings
from edge.sip.reboot import RebootSender
from edge.state.notifies import OutcomeKeeper, decode, encode
from provedge.formats import reboots, store


def _target(job: int, seq: int) -> dict[str, Any]:
    return {"job": job, "seq": seq, "mac": f"0015650000{seq:02x}", "mode": "reboot",
            "event": "check-sync;reboot=true", "accounts": [], "credentials": [],
            "token": "t"}  # fmt: skip


def _publish(publisher: LmdbPublisher, job: int, wave: int, seqs: list[int]) -> None:
    files = {reboots.key(job, s): reboots.encode(_target(job, s)) for s in seqs}
    publisher.publish([Publication(reboots.owner(job, wave), files)])


def test_a_later_wave_of_an_older_job_is_still_found(tmp_path: Path) -> None:
    env = store.open_env(tmp_path)
    publisher = LmdbPublisher(env)
    bindings = Bindings(tmp_path)
    sender = RebootSender(env, bindings, tmp_path)
    try:
        _publish(publisher, 1, 0, [0, 1])
        _publish(publisher, 2, 0, [0])
        sender._look(0.0)
        _publish(publisher, 1, 1, [2, 3])  # sorts before job 2's targets
        sender._look(1.0)
        seen = sorted(reboots.split_key(key) for key in sender._waiting)
        assert seen == [(1, 0), (1, 1), (1, 2), (1, 3), (2, 0)]
        sender._waiting.clear()
        sender._look(2.0)
        assert sender._waiting == {}  # each once
    finally:
        sender._sock.close()
        bindings._sock.close()
        env.close()


def test_the_writer_keeps_the_strongest_outcome(tmp_path: Path) -> None:
    env = lmdb.open(str(tmp_path / "state"), max_dbs=2)
    keeper = OutcomeKeeper(env.open_db(b"notifies"), clock=lambda: 1000.0)
    key = reboots.key(7, 3)

    def outcome(state: str, at: float) -> tuple[bytes, bytes]:
        return key, reboots.encode({"state": state, "status": None, "detail": "", "at": at})

    sends = [outcome("sent", 1.0), outcome("accepted", 2.0), outcome("timeout", 33.0)]
    for datagram in encode(sends):
        assert list(decode(datagram)) == sends
        keeper.fold(datagram)
    with env.begin(write=True) as txn:
        keeper.commit(txn)
    with env.begin(db=keeper._db) as txn:
        raw = txn.get(key)
    assert raw is not None and reboots.decode(raw)["state"] == "accepted"
    env.close()
