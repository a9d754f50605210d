"""Whether the edge counted every fetch of a storm: ``provision_count`` = fetches, none lost.

The storm driver knows how many of each phone's own (MAC-named) files it was served; the
edge counts the same GETs into the edge state (edge/state/: recorder, batched writer). Read
before and after the storm, the difference per MAC must equal the driver's count. The
writer commits in batches, so the check polls, bounded, until the counts agree or a
deadline passes; what still differs then is lost (or extra).
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

from edge.http.routing import classify
from provedge.formats import edgestate

SETTLE_S = 10.0  # the writer commits every 50 ms; this is generous on a loaded machine
EVERY_S = 0.2


def own_mac(file_name: str) -> str | None:
    """The MAC a file name carries when the edge counts it as that phone's own file."""
    ref = classify(file_name)
    return None if ref is None else ref.mac


def counts(data: Path, macs: list[str]) -> dict[str, int]:
    """The edge state's fetch count of each MAC (0 when none yet)."""
    held = edgestate.open_reader(data, edgestate.FETCHES_DB)
    if held is None:  # the writer has not made the edge state yet: nothing counted
        return dict.fromkeys(macs, 0)
    env, fetches = held
    try:
        with env.begin(db=fetches, buffers=True) as txn:
            found = {}
            for mac in macs:
                raw = txn.get(mac.encode())
                found[mac] = 0 if raw is None else edgestate.decode_fetch(raw).count
            return found
    finally:
        edgestate.close_reader(env)


def check(
    data: Path, before: dict[str, int], served: Counter[str], settle_s: float = SETTLE_S
) -> dict[str, Any]:
    """Compare the edge's counts since ``before`` with ``served``, waiting up to
    ``settle_s`` for the writer's last batches."""
    deadline = time.monotonic() + settle_s
    while True:
        after = counts(data, list(before))
        delta = {mac: after[mac] - before[mac] for mac in before}
        wrong = {mac: n for mac, n in delta.items() if n != served.get(mac, 0)}
        if not wrong or time.monotonic() > deadline:
            break
        time.sleep(EVERY_S)
    lost = sum(max(0, served.get(mac, 0) - delta[mac]) for mac in wrong)
    extra = sum(max(0, delta[mac] - served.get(mac, 0)) for mac in wrong)
    return {
        "phones_checked": len(before),
        "fetches_served": sum(served.values()),
        "fetches_counted": sum(delta.values()),
        "phones_wrong": len(wrong),
        "lost": lost,
        "extra": extra,
    }
