"""Boot-time file names of every vendor (shared/reference/vendors.md) classify correctly."""

import pytest

from edge.http.routing import classify


@pytest.mark.parametrize(
    ("name", "mac"),
    [
        # Yealink: MAC boot and cfg files, lowercase
        ("001565aabbcc.boot", "001565aabbcc"),
        ("001565aabbcc.cfg", "001565aabbcc"),
        ("001565aabbcc-local.cfg", "001565aabbcc"),
        # Polycom
        ("0004f2aabbcc.cfg", "0004f2aabbcc"),
        ("0004f2aabbcc-user.cfg", "0004f2aabbcc"),
        ("0004f2aabbcc-directory.xml", "0004f2aabbcc"),
        # Cisco $MA / $MAU
        ("0002fdaabbcc.xml", "0002fdaabbcc"),
        ("0002FDAABBCC.xml", "0002fdaabbcc"),
        # Grandstream
        ("cfg000b82aabbcc.xml", "000b82aabbcc"),
        ("cfg000b82aabbcc", "000b82aabbcc"),
        # Snom, uppercase MAC
        ("snomD785-000413AABBCC.htm", "000413aabbcc"),
        ("000413AABBCC.xml", "000413aabbcc"),
        # Fanvil
        ("0c383eaabbcc.cfg", "0c383eaabbcc"),
        # Cisco enterprise
        ("SEP0002FDAABBCC.cnf.xml", "0002fdaabbcc"),
    ],
)
def test_per_device_names_carry_the_mac(name: str, mac: str) -> None:
    ref = classify(name)
    assert ref is not None
    assert ref.mac == mac
    assert ref.name == name.lower()


@pytest.mark.parametrize(
    "name",
    [
        "y000000000000.boot",
        "y000000000028.cfg",
        "y000000000096.cfg",
        "000000000000.cfg",
        "000000000000-directory.xml",
        "spa508G.cfg",
        "8841-3PCC.xml",
        "CP-8841-3PCC.xml",
        "cfg.xml",
        "cfggxp2135.xml",
        "snomD785.htm",
        "f0X4hw1.100.cfg",
        "F0V00X300000.cfg",
        "common.cfg",
    ],
)
def test_common_names_carry_no_mac(name: str) -> None:
    ref = classify(name)
    assert ref is not None and ref.mac is None


@pytest.mark.parametrize(
    "name", ["bg/0123456789abcdef-480x272.png", "bg/001565aabbcc0000-320x240.jpg",
             "BG/0123456789ABCDEF-320x240.BMP"],
)  # fmt: skip
def test_background_images_are_the_tenants_files(name: str) -> None:
    """Not a MAC's: no provision counter or limit, whatever hex the hash holds."""
    ref = classify(name)
    assert ref is not None and ref.mac is None and ref.name == name.lower()


@pytest.mark.parametrize(
    "name",
    ["", "../etc/passwd", "a/b.cfg", ".hidden", "x" * 200, "a b.cfg", "bg/../x.png",
     "bg/0123456789abcdef-480x272.gif", "bg/0123456789abcdef-480x272.png/x", "bg/x.png"],
)  # fmt: skip
def test_names_that_cannot_be_boot_files(name: str) -> None:
    assert classify(name) is None
