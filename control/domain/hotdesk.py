"""Which vendor families take hot-desking, and what the PIN becomes on each
(shared/reference/vendor-settings-audit.md, "Line label, wallpaper, hot-desking").

A device with a PIN, its own or its tenant's, gets its vendor's hot-desking turned on. Only Polycom carries the PIN
itself (``prov.login.localPassword``, weak in the audit); Yealink's logon wizard and
Cisco's Extension Mobility log users in against the server, so there the PIN only turns
the feature on. Grandstream, Snom and Fanvil have no such setting the audit could find:
a PIN for them is refused rather than accepted and lost (docs/models.md).
"""

from __future__ import annotations

from control.domain.catalog import Model
from control.domain.errors import invalid

HOTDESK_VENDORS = frozenset({"yealink", "polycom", "cisco-spa", "cisco-mpp"})


def pin_of(model: Model, own: str, tenant_pin: str) -> str:
    """The PIN a phone gets: its own, else its tenant's (the manuals' one admin PIN of a
    tenant) where its vendor takes one; a tenant's PIN never reaches a vendor without
    hot-desking, whose devices could not have refused it one by one."""
    if own:
        return own
    return tenant_pin if model.vendor.id in HOTDESK_VENDORS else ""


def check_hotdesk(model: Model, pin: str, field: str) -> None:
    if pin and model.vendor.id not in HOTDESK_VENDORS:
        raise invalid(field, f"{model.vendor.label} phones have no hot-desking setting")
