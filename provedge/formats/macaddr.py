"""MAC addresses in every notation phones and operators use, normalised to 12 lowercase hex."""

from __future__ import annotations

import re

# Colons, dashes, dots (Cisco 0011.2233.4455), spaces or nothing between the digits.
_SEPARATORS = re.compile(r"[\s:.\-]")
_HEX12 = re.compile(r"[0-9a-f]{12}")


class InvalidMac(ValueError):
    """The text is not a MAC address in any notation we accept."""


def normalize_mac(text: str) -> str:
    """Return ``text`` as 12 lowercase hex digits or raise :class:`InvalidMac`.

    Separators must be consistent with a real notation: groups of 2 (``00:15:65:..``,
    ``00-15-65-..``), groups of 4 with dots (``0015.6512.3456``) or none at all.
    """
    stripped = text.strip()
    digits = _SEPARATORS.sub("", stripped).lower()
    if not _HEX12.fullmatch(digits) or not _groups_are_regular(stripped):
        raise InvalidMac(f"not a MAC address: {text!r}")
    return digits


def _groups_are_regular(text: str) -> bool:
    groups = re.split(r"[\s:.\-]", text)
    if len(groups) == 1:
        return True
    sizes = {len(group) for group in groups}
    return sizes == {2} and len(groups) == 6 or sizes == {4} and len(groups) == 3


def is_mac(text: str) -> bool:
    try:
        normalize_mac(text)
    except InvalidMac:
        return False
    return True


def colon_form(mac: str) -> str:
    """``001565aabbcc`` -> ``00:15:65:aa:bb:cc`` (for display and vendor files that want it)."""
    return ":".join(mac[i : i + 2] for i in range(0, 12, 2))
