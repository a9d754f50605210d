"""BLF keys in each vendor's own notation (shared/reference/vendor-settings-audit.md, "BLF keys").

The Default engine only inserts values, so every device template carries MAX_KEYS fixed
key slots; this module fills slot N with the phone key it lands on and the vendor's codes.
Key N goes on the phone's programmable key (lines + N): the first keys stay the lines'
own. An unused slot renders cleared, so a removed key disappears from the phone.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

MAX_KEYS = 10  # slots in every device template; a model with fewer keys refuses more

KEY_FIELDS = (
    "slot",  # the phone's key number, 1-based
    "slot0",  # the same, 0-based (Snom idx)
    "extension",
    "label",
    "uri",  # extension@realm, what a BLF subscribes to
    "type",  # the vendor's key-type code
    "function",  # Cisco Extended_Function / Snom fkey text
    "cisco_ext",  # Cisco Extension_N_: Disabled for a function key, N (its default) if unused
    "fanvil_value",  # Fanvil <Value>: extension@line/b
    "gs_mode",  # Grandstream P-value numbers of this key (mode, account, label, value)
    "gs_account",
    "gs_label",
    "gs_value",
)

# Vendor key-type codes for a BLF key and for an empty one. Sources per row in the audit:
# Yealink linekey type 16 (Wazo yealink); Grandstream mode 11 on GXP21xx fixed keys (FPBX;
# GRP26xx uses 1: weak, not told apart here); Fanvil Type 1 (FPBX x4u); Polycom
# resourceList type "normal".
_BLF_TYPE = {"yealink": "16", "grandstream": "11", "fanvil": "1", "polycom": "normal"}
_EMPTY_TYPE = {"yealink": "0", "grandstream": "0", "fanvil": "0", "polycom": ""}


@dataclass(frozen=True, slots=True)
class KeyData:
    extension: str  # the monitored extension's number
    label: str  # empty: the extension number


def key_values(vendor: str, realm: str, lines: int, keys: tuple[KeyData, ...]) -> dict[str, str]:
    # Most phones have few keys or none: the unused slots are the same for every phone of
    # a vendor with as many lines, so they are built once (a recompile builds this for
    # every phone; it was a quarter of a recompile's time).
    values = dict(_unused_slots(vendor, lines))
    for index, key in enumerate(keys[:MAX_KEYS]):
        values.update(_slot(vendor, realm, lines, index, key))
    return values


@functools.lru_cache(maxsize=256)
def _unused_slots(vendor: str, lines: int) -> dict[str, str]:
    values: dict[str, str] = {}
    for index in range(MAX_KEYS):
        values.update(_slot(vendor, "", lines, index, None))
    return values


def _slot(vendor: str, realm: str, lines: int, index: int, key: KeyData | None) -> dict[str, str]:
    """Slot ``index``'s values, ``key`` on it (None: cleared)."""
    slot = lines + index + 1
    base = 1363 + 2 * (slot - 1)  # Grandstream: mode P1363, account P1364, ...
    fields = {
        "slot": str(slot),
        "slot0": str(slot - 1),
        "gs_mode": str(base),
        "gs_account": str(base + 1),
        "gs_label": str(base + 102),  # label P1465, value P1466 for key 1
        "gs_value": str(base + 103),
    }
    if key is None:
        fields.update(
            extension="",
            label="",
            uri="",
            type=_EMPTY_TYPE.get(vendor, ""),
            function="none" if vendor == "snom" else "",
            cisco_ext=str(slot),
            fanvil_value="",
        )
    else:
        label = key.label or key.extension
        uri = f"{key.extension}@{realm}"
        function = f"blf sip:{uri}" if vendor == "snom" else f"fnc=blf+sd+cp;sub={uri};nme={label}"
        fields.update(
            extension=key.extension,
            label=label,
            uri=uri,
            type=_BLF_TYPE.get(vendor, ""),
            function=function,
            cisco_ext="Disabled",
            fanvil_value=f"{key.extension}@1/b",
        )
    return {f"key{index + 1}.{name}": value for name, value in fields.items()}
