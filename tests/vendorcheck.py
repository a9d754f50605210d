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


# ---- settings by the vendor's own names, for reading values back -----------------------
def polycom_settings(body: bytes) -> dict[str, str]:
    """Polycom: every setting is an attribute of <polycomConfig>."""
    return dict(parse_xml(body, "polycomConfig").attrib)


def flat_settings(body: bytes, root: str) -> dict[str, str]:
    """Cisco <flat-profile>, Grandstream <gs_provision><config>: one element per setting."""
    element = parse_xml(body, root)
    container = element.find("config") if root == "gs_provision" else element
    assert container is not None
    settings: dict[str, str] = {}
    for child in container:
        assert child.tag not in settings, f"{child.tag} set twice"
        settings[child.tag] = child.text or ""
    return settings


def snom_settings(body: bytes) -> dict[str, str]:
    """Snom <settings><phone-settings>: ``name`` or ``name[idx]`` for per-identity settings."""
    settings: dict[str, str] = {}
    for child in parse_xml(body, "settings").iter():
        if child.get("perm") is None:
            continue
        key = child.tag if child.get("idx") is None else f"{child.tag}[{child.get('idx')}]"
        assert key not in settings, f"{key} set twice"
        settings[key] = child.text or ""
    return settings


def fanvil_settings(body: bytes) -> dict[str, str]:
    """Fanvil <sysConf>: ``section/Name`` paths, ``line[N]/Name`` and ``account[N]/Name``."""
    settings: dict[str, str] = {}

    def walk(element: ET.Element, path: str) -> None:
        for child in element:
            name = child.tag if child.get("index") is None else f"{child.tag}[{child.get('index')}]"
            key = f"{path}/{name}" if path else name
            if len(child):
                walk(child, key)
            else:
                assert key not in settings, f"{key} set twice"
                settings[key] = child.text or ""

    walk(parse_xml(body, "sysConf"), "")
    return settings


def wallpaper_settings(vendor: str, body: bytes) -> tuple[str, dict[str, str]]:
    """A device file's wallpaper: (the URL it points the phone at, the settings that
    choose it), by the vendor's own names (docs/models.md, "Background images")."""
    if vendor == "yealink":
        s = yealink_settings(body)
        return s["wallpaper_upload.url"], {"backgrounds": s["phone_setting.backgrounds"]}
    if vendor == "polycom":
        s = polycom_settings(body)
        return s["bg.color.bm.1.name"], {
            "selection": s["bg.color.selection"], "enabled": s["bg.background.enabled"]
        }  # fmt: skip
    if vendor == "cisco-spa":
        s = flat_settings(body, "flat-profile")
        return s["BMP_Picture_Download_URL"], {"select": s["Select_Background_Picture"]}
    if vendor == "grandstream":
        s = flat_settings(body, "gs_provision")
        return s["P2917"], {"source": s["P2916"]}
    root = parse_xml(body, "settings")
    found = root.find("phone-settings/custom_bg_image_url")
    assert found is not None
    return found.text or "", {}
