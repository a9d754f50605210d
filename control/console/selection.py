"""What a bulk action of the device list takes: the ticked rows, or every page's devices.

The list's form posts either ``mac`` fields (the rows ticked on this page) or
``all_matching`` with the list's ``tenant``, ``filter`` and ``q``: then the action takes
every device the list shows on any page, picked by the service from the filter and
search as for the API's ``{"tenant", "filter", "q"}`` body, so no MAC list travels.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.datastructures import FormData

from control.console.sessions import Session
from control.domain.errors import ServiceError
from control.domain.refs import parse_ref

# action (its route under /devices/) -> the verb of its confirmation
ACTIONS = {
    "remove": "Remove",
    "reset-counter": "Reset the provision counter of",
    "resync": "Re-sync",
    "reboot": "Reboot",
}


@dataclass(frozen=True, slots=True)
class Selection:
    macs: list[str] | None  # None: every device under tenant, filter and q
    tenant: int | str | None
    filter: str | None
    q: str


def read(form: FormData, session: Session) -> Selection:
    """The selection a form carries; a 422 when it selects nothing."""
    given = str(form.get("tenant") or "").strip()
    tenant = parse_ref(given) if given else session.principal.scope
    if form.get("all_matching"):
        if tenant is None:
            raise ServiceError(422, {"tenant": "choose a tenant to take every page's devices"})
        return Selection(None, tenant, str(form.get("filter") or "all"), str(form.get("q") or ""))
    macs = [str(mac) for mac in form.getlist("mac")]
    if not macs:
        raise ServiceError(422, {"mac": "select at least one device"})
    return Selection(macs, tenant, None, "")
