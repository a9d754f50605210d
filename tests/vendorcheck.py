"""What a well-formed file of each vendor looks like, shared by compiler and end-to-end tests."""

from __future__ import annotations

import xml.etree.ElementTree as ET

ROOTS = {
    "polycom-master": "APPLICATION",
    "polycom": "polycomConfig",
    "cisco": "flat-profile",
    "grandstream": "gs_provision",
    "snom": "settings",
    "snom-index": "setting-files",
    "fanvil": "sysConf",
}


def parse_xml(body: bytes, root: str) -> ET.Element:
    element = ET.fromstring(body)
    assert element.tag == root, f"root is {element.tag}, expected {root}"
    return element


def yealink_settings(body: bytes) -> dict[str, str]:
    """Yealink text: first line #!version:1.0.0.1, then one `key = value` per line."""
    text = body.decode()
    lines = text.splitlines()
    assert lines[0] == "#!version:1.0.0.1"
    settings: dict[str, str] = {}
    for line in lines[1:]:
        if not line or line.startswith(("#", "include:config ")):
            continue
        key, sep, value = line.partition(" = ")
        assert sep, f"not a key = value line: {line!r}"
        assert key not in settings, f"{key} set twice"
        settings[key] = value
    return settings


def yealink_includes(body: bytes) -> list[str]:
    """The files a Yealink boot file tells the phone to fetch next."""
    prefix = 'include:config "'
    return [
        line[len(prefix) : -1] for line in body.decode().splitlines() if line.startswith(prefix)
    ]
