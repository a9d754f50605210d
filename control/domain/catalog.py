"""The catalogue of supported phones: vendor families, their boot files, and models.

Facts (file names, MAC case, formats) come from shared/reference/vendors.md; where a
model's common-file name is not documented there, docs/models.md says so.
File-name patterns are ``str.format`` patterns over ``mac`` (12 lowercase hex),
``MAC`` (uppercase) and the model's own parameters.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

Scope = Literal["device", "common"]

MAX_LINES = 6  # the ceiling over every model

TEXT = "text/plain; charset=utf-8"
XML = "application/xml; charset=utf-8"


@dataclass(frozen=True, slots=True)
class VendorFile:
    pattern: str  # e.g. "{mac}.cfg", "y0000000000{hwid}.cfg"
    template: str  # path below templates/
    scope: Scope
    content_type: str
    escape: Literal["none", "xml", "line"]

    def name(self, params: Mapping[str, str]) -> str:
        return self.pattern.format(**params)


ImageFormat = Literal["png", "jpeg", "bmp"]


@dataclass(frozen=True, slots=True)
class Vendor:
    id: str
    label: str
    files: tuple[VendorFile, ...]
    true: str  # how the vendor writes a boolean
    false: str
    transports: Mapping[str, str]  # udp/tcp/tls -> the vendor's own code
    # the image format its wallpaper setting takes (docs/models.md, "Background images");
    # None: no wallpaper setting was found for the family
    wallpaper: ImageFormat | None = None


@dataclass(frozen=True, slots=True)
class Screen:
    """A model's main display: the size a wallpaper is scaled to, and whether it is a
    colour screen that takes a wallpaper at all (a monochrome one, or a DECT handset
    without a custom wallpaper setting, does not). ``source`` says where the size comes
    from; "weak" marks a datasheet figure not confirmed elsewhere."""

    width: int
    height: int
    wallpaper: bool
    source: str


@dataclass(frozen=True, slots=True)
class Model:
    id: str  # "vendor-model", lowercase
    vendor: Vendor
    label: str
    accounts: int  # SIP accounts (registrations) the phone holds; datasheets, docs/models.md
    line_keys: int  # physical line / programmable keys (0: a DECT handset has none)
    params: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    screen: Screen | None = None  # None: no display a wallpaper could go on

    @property
    def wallpaper(self) -> Screen | None:
        """The screen a background is scaled to; None when the model takes none (no
        colour screen, or its vendor has no wallpaper setting)."""
        screen = self.screen
        if screen is None or not screen.wallpaper or self.vendor.wallpaper is None:
            return None
        return screen

    @property
    def max_lines(self) -> int:
        """Lines a device of this model may carry: its accounts, never above MAX_LINES."""
        return min(self.accounts, MAX_LINES)

    def file_params(self, mac: str = "") -> dict[str, str]:
        return {**self.params, "mac": mac, "MAC": mac.upper()}


def _files(vendor: str, *specs: tuple[str, str, Scope, str]) -> tuple[VendorFile, ...]:
    escape: Literal["xml", "line"] = "line" if vendor == "yealink" else "xml"
    return tuple(
        VendorFile(pattern, f"{vendor}/{template}", scope, ctype, escape)
        for pattern, template, scope, ctype in specs
    )


YEALINK = Vendor(
    "yealink",
    "Yealink",
    _files(
        "yealink",
        ("y0000000000{hwid}.cfg", "common.cfg", "common", TEXT),
        ("{mac}.boot", "mac.boot", "device", TEXT),
        ("{mac}.cfg", "mac.cfg", "device", TEXT),
    ),
    "1",
    "0",
    MappingProxyType({"udp": "0", "tcp": "1", "tls": "2"}),
    "png",  # T4x/T5x: .jpg/.png/.bmp, at most 1.8 megapixels (Yealink's own template notes)
)
POLYCOM = Vendor(
    "polycom",
    "Polycom / Poly",
    _files(
        "polycom",
        ("000000000000.cfg", "master.cfg", "common", XML),
        ("common.cfg", "common.cfg", "common", XML),
        ("{mac}.cfg", "master.cfg", "device", XML),
        ("{mac}-user.cfg", "user.cfg", "device", XML),
    ),
    "1",
    "0",
    MappingProxyType({"udp": "UDPOnly", "tcp": "TCPOnly", "tls": "TLS"}),
    "jpeg",  # VVX: JPEG, the format every UC Software release shows (bg.color.bm)
)
CISCO_SPA = Vendor(
    "cisco-spa",
    "Cisco SPA (Small Business)",
    _files(
        "cisco",
        ("spa{psn}.cfg", "profile_rule.xml", "common", XML),
        ("{mac}.xml", "mac.xml", "device", XML),
    ),
    "Yes",
    "No",
    MappingProxyType({"udp": "UDP", "tcp": "TCP", "tls": "TLS"}),
    "bmp",  # SPA525G: BMP_Picture_Download_URL takes a 24-bit BMP (weak: the bit depth)
)
CISCO_MPP = Vendor(
    "cisco-mpp",
    "Cisco MPP / 3PCC",
    _files(
        "cisco",
        ("{psn}.xml", "profile_rule.xml", "common", XML),
        ("CP-{psn}.xml", "profile_rule.xml", "common", XML),
        ("{mac}.xml", "mac.xml", "device", XML),
    ),
    "Yes",
    "No",
    MappingProxyType({"udp": "UDP", "tcp": "TCP", "tls": "TLS"}),
)
GRANDSTREAM = Vendor(
    "grandstream",
    "Grandstream",
    _files(
        "grandstream",
        ("cfg.xml", "common.xml", "common", XML),
        ("cfg{gs_model}.xml", "common.xml", "common", XML),
        ("cfg{mac}.xml", "mac.xml", "device", XML),
    ),
    "1",
    "0",
    MappingProxyType({"udp": "0", "tcp": "1", "tls": "2"}),
    "jpeg",  # P2916/P2917 wallpaper download: JPEG (weak: the format)
)
SNOM = Vendor(
    "snom",
    "Snom",
    _files(
        "snom",
        ("snom{snom_model}.htm", "common.xml", "common", XML),
        ("snom{snom_model}-{MAC}.htm", "index.xml", "device", XML),
        ("{MAC}.xml", "mac.xml", "device", XML),
    ),
    "on",
    "off",
    MappingProxyType({"udp": "udp", "tcp": "tcp", "tls": "tls"}),
    "png",  # custom_bg_image_url: PNG (weak: the format)
)
FANVIL = Vendor(
    "fanvil",
    "Fanvil",
    _files(
        "fanvil",
        ("{fanvil_common}", "common.cfg", "common", XML),
        ("{mac}.cfg", "mac.cfg", "device", XML),
    ),
    "1",
    "0",
    MappingProxyType({"udp": "0", "tcp": "1", "tls": "3"}),  # Fanvil: 3 is TLS
)


def _model(
    model_id: str, vendor: Vendor, label: str, accounts: int, line_keys: int,
    screen: Screen | None = None, **params: str,
) -> Model:  # fmt: skip
    return Model(model_id, vendor, label, accounts, line_keys, MappingProxyType(params), screen)


# Main displays (docs/models.md, "Background images"): vendor datasheets; "weak" where
# only one secondary source was found.
_YEALINK_43 = Screen(480, 272, True, "Yealink datasheet: 4.3-inch 480x272 colour")
_VVX_400 = Screen(320, 240, True, "Polycom VVX 400/410 datasheet: 3.5-inch 320x240 colour")
_GXP_QVGA = Screen(320, 240, True, "Grandstream datasheet: 320x240 colour TFT (weak)")
_SNOM_43 = Screen(480, 272, True, "Snom D785 datasheet: 4.3-inch 480x272 colour (weak)")


MODELS: Mapping[str, Model] = MappingProxyType(
    {
        model.id: model
        for model in (
            _model("yealink-t46g", YEALINK, "Yealink SIP-T46G", 6, 10, _YEALINK_43, hwid="28"),
            _model("yealink-t46s", YEALINK, "Yealink SIP-T46S", 16, 10, _YEALINK_43, hwid="66"),
            _model("yealink-t54w", YEALINK, "Yealink SIP-T54W", 16, 10, _YEALINK_43, hwid="96"),
            _model(
                "yealink-w52p",
                YEALINK,
                "Yealink W52P (DECT)",
                5,
                0,
                Screen(
                    128,
                    160,
                    False,
                    "W52H handset: 1.8-inch colour, built-in wallpapers only (weak)",
                ),
                hwid="25",
            ),
            _model("polycom-vvx400", POLYCOM, "Polycom VVX 400", 12, 12, _VVX_400),
            _model("polycom-vvx410", POLYCOM, "Polycom VVX 410", 12, 12, _VVX_400),
            _model(
                "polycom-spip550",
                POLYCOM,
                "Polycom SoundPoint IP 550",
                4,
                4,
                Screen(320, 160, False, "Polycom datasheet: 320x160 greyscale"),
            ),
            _model(
                "cisco-spa508g",
                CISCO_SPA,
                "Cisco SPA508G",
                8,
                8,
                Screen(128, 64, False, "Cisco datasheet: 128x64 monochrome"),
                psn="508G",
            ),
            _model(
                "cisco-spa525g",
                CISCO_SPA,
                "Cisco SPA525G",
                5,
                5,
                Screen(320, 240, True, "Cisco SPA525G admin guide: 3.2-inch 320x240 colour"),
                psn="525G",
            ),
            _model(
                "cisco-cp8841",
                CISCO_MPP,
                "Cisco IP Phone 8841 (3PCC/MPP)",
                5,
                5,
                Screen(396, 162, False, "Cisco 8841 datasheet: 5-inch greyscale"),
                psn="8841-3PCC",
            ),
            # a colour screen, but no MPP wallpaper setting was found (vendor-settings-audit)
            _model(
                "cisco-cp8865",
                CISCO_MPP,
                "Cisco IP Phone 8865 (3PCC/MPP)",
                5,
                5,
                Screen(800, 480, True, "Cisco 8865 datasheet: 5-inch 800x480 colour"),
                psn="8865-3PCC",
            ),
            _model(
                "grandstream-gxp2135",
                GRANDSTREAM,
                "Grandstream GXP2135",
                4,
                8,
                _GXP_QVGA,
                gs_model="gxp2135",
            ),
            _model(
                "grandstream-grp2612w",
                GRANDSTREAM,
                "Grandstream GRP2612W",
                2,
                2,
                _GXP_QVGA,
                gs_model="grp2612w",
            ),
            _model("snom-d785", SNOM, "Snom D785", 12, 24, _SNOM_43, snom_model="D785"),
            _model(
                "snom-d345",
                SNOM,
                "Snom D345",
                12,
                48,
                Screen(240, 320, False, "Snom D345 datasheet: monochrome main display (weak)"),
                snom_model="D345",
            ),
            _model(
                "snom-720",
                SNOM,
                "Snom 720",
                12,
                18,
                Screen(240, 128, False, "Snom 720 datasheet: monochrome (weak)"),
                snom_model="720",
            ),
            _model(
                "fanvil-x4u",
                FANVIL,
                "Fanvil X4U",
                12,
                12,
                Screen(320, 240, True, "Fanvil datasheet: 2.8-inch colour (weak)"),
                fanvil_common="f0X4Uhw1.100.cfg",
            ),
            _model(
                "fanvil-x6u",
                FANVIL,
                "Fanvil X6U",
                20,
                24,
                Screen(480, 272, True, "Fanvil datasheet: 4.3-inch colour (weak)"),
                fanvil_common="f0X6Uhw1.100.cfg",
            ),
        )
    }
)


def device_files(model: Model, mac: str) -> list[tuple[str, VendorFile]]:
    params = model.file_params(mac)
    return [(f.name(params), f) for f in model.vendor.files if f.scope == "device"]


def common_files(model: Model) -> list[tuple[str, VendorFile]]:
    params = model.file_params()
    return [(f.name(params), f) for f in model.vendor.files if f.scope == "common"]
