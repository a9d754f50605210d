"""SIP parser objects that hand out dicts and lists take part in cyclic garbage collection:
a cycle a caller builds through them is collected (the compiled classes were once marked
``no_gc``, and such a cycle leaked)."""

from __future__ import annotations

import gc
import weakref
from types import ModuleType
from typing import Any

import pytest

import edge._sipparse
import edge._sipparse_py
from tests.sipfixtures import phone

IMPLS = {"py": edge._sipparse_py, "c": edge._sipparse}


class Holder:
    """A weakly referenceable object to put inside the cycle."""

    ref: Any = None


@pytest.fixture(params=["py", "c"], ids=["py", "c"])
def impl(request: pytest.FixtureRequest) -> ModuleType:
    return IMPLS[request.param]


# The object that holds a container, and the container, as a message hands them out.
CONTAINERS: dict[str, Any] = {
    "message via list": lambda msg: (msg, msg.via),
    "via params": lambda msg: (msg.via[0], msg.via[0].params),
    "uri params": lambda msg: (msg.uri, msg.uri.params),
    "uri headers": lambda msg: (msg.uri, msg.uri.headers),
    "address params": lambda msg: (msg.from_, msg.from_.params),
    "credentials params": lambda msg: (msg.authorization, msg.authorization.params),
    "event params": lambda msg: (msg.event, msg.event.params),
}


@pytest.mark.parametrize("which", list(CONTAINERS))
def test_cycles_through_handed_out_containers_are_collected(impl: ModuleType, which: str) -> None:
    name = "pnp_subscribe_grandstream_GRP2612W.txt" if which == "event params" else None
    owner, container = CONTAINERS[which](impl.parse(phone(name or "register_polycom_spip550.txt")))
    holder = Holder()
    holder.ref = owner  # holder -> owner -> container -> holder
    if isinstance(container, list):
        container.append(holder)
    else:
        container["h"] = holder
    watched = weakref.ref(holder)
    del holder, owner, container
    gc.collect()
    assert watched() is None
