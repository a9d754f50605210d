"""edge/state/reader.py: a worker's firewall and bindings read the edge state through one
handle (LMDB allows one per process; with a handle each, the second reader saw nothing)."""

from __future__ import annotations

import time
from pathlib import Path

from edge.sip.bindings import Bindings
from edge.sip.firewall import Firewall
from edge.state.reader import StateReader
from provedge.formats import bans, bindings, edgestate

BANNED = "192.0.2.7"
ACCOUNT = 41


def write_state(data: Path) -> bytes:
    """A ban and a binding in a fresh edge state, as the writer would leave them; the
    binding's key."""
    now = time.time()
    key = bindings.key(ACCOUNT, bindings.identity("sip:41@192.0.2.9:5060", None, None))
    record = {"account": ACCOUNT, "contact": "sip:41@192.0.2.9:5060", "expires_at": now + 600}
    env = edgestate.open_env(data)
    try:
        with env.begin(write=True) as txn:
            dbs = {name: env.open_db(name, txn=txn) for name in edgestate.DATABASES}
            ban = bans.Ban("digest", 10, now, now, now + 600)
            txn.put(bans.key(BANNED), bans.encode(ban), db=dbs[edgestate.BANS_DB])
            txn.put(bans.GENERATION_KEY, bans.encode_generation(1), db=dbs[edgestate.BANS_DB])
            txn.put(key, bindings.encode(record), db=dbs[edgestate.BINDINGS_DB])
    finally:
        env.close()
    return key


def test_firewall_and_bindings_of_one_worker_both_read_the_edge_state(tmp_path: Path) -> None:
    state = StateReader(tmp_path)
    firewall, store = Firewall(tmp_path, state=state), Bindings(tmp_path, state=state)
    try:
        assert store.current(ACCOUNT) == {}  # no edge state yet: nothing, and no error
        key = write_state(tmp_path)  # the writer creates it after the worker started
        firewall.reload(time.time())
        assert firewall.banned(BANNED) and not firewall.banned("192.0.2.8")
        current = store.current(ACCOUNT)
        assert list(current) == [key] and current[key]["contact"] == "sip:41@192.0.2.9:5060"
        firewall.reload(time.time())  # the order of the reads does not matter
        assert firewall.banned(BANNED) and list(store.current(ACCOUNT)) == [key]
    finally:
        store.stop()
        firewall.stop()
        state.close()
