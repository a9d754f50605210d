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


@dataclass(frozen=True, slots=True)
class Vendor:
    id: str
    label: str
    files: tuple[VendorFile, ...]
    true: str  # how the vendor writes a boolean
    false: str
    transports: Mapping[str, str]  # udp/tcp/tls -> the vendor's own code


@dataclass(frozen=True, slots=True)
class Model:
    id: str  # "vendor-model", lowercase
    vendor: Vendor
    label: str
    accounts: int  # SIP accounts (registrations) the phone holds; datasheets, docs/models.md
    line_keys: int  # physical line / programmable keys (0: a DECT handset has none)
    params: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

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
    model_id: str, vendor: Vendor, label: str, accounts: int, line_keys: int, **params: str
) -> Model:
    return Model(model_id, vendor, label, accounts, line_keys, MappingProxyType(params))


MODELS: Mapping[str, Model] = MappingProxyType(
    {
        model.id: model
        for model in (
            _model("yealink-t46g", YEALINK, "Yealink SIP-T46G", 6, 10, hwid="28"),
            _model("yealink-t46s", YEALINK, "Yealink SIP-T46S", 16, 10, hwid="66"),
            _model("yealink-t54w", YEALINK, "Yealink SIP-T54W", 16, 10, hwid="96"),
            _model("yealink-w52p", YEALINK, "Yealink W52P (DECT)", 5, 0, hwid="25"),
            _model("polycom-vvx400", POLYCOM, "Polycom VVX 400", 12, 12),
            _model("polycom-vvx410", POLYCOM, "Polycom VVX 410", 12, 12),
            _model("polycom-spip550", POLYCOM, "Polycom SoundPoint IP 550", 4, 4),
            _model("cisco-spa508g", CISCO_SPA, "Cisco SPA508G", 8, 8, psn="508G"),
            _model("cisco-spa525g", CISCO_SPA, "Cisco SPA525G", 5, 5, psn="525G"),
            _model(
                "cisco-cp8841", CISCO_MPP, "Cisco IP Phone 8841 (3PCC/MPP)", 5, 5, psn="8841-3PCC"
            ),
            _model(
                "cisco-cp8865", CISCO_MPP, "Cisco IP Phone 8865 (3PCC/MPP)", 5, 5, psn="8865-3PCC"
            ),
            _model(
                "grandstream-gxp2135", GRANDSTREAM, "Grandstream GXP2135", 4, 8, gs_model="gxp2135"
            ),
            _model(
                "grandstream-grp2612w",
                GRANDSTREAM,
                "Grandstream GRP2612W",
                2,
                2,
                gs_model="grp2612w",
            ),
            _model("snom-d785", SNOM, "Snom D785", 12, 24, snom_model="D785"),
            _model("snom-d345", SNOM, "Snom D345", 12, 48, snom_model="D345"),
            _model("snom-720", SNOM, "Snom 720", 12, 18, snom_model="720"),
            _model("fanvil-x4u", FANVIL, "Fanvil X4U", 12, 12, fanvil_common="f0X4Uhw1.100.cfg"),
            _model("fanvil-x6u", FANVIL, "Fanvil X6U", 20, 24, fanvil_common="f0X6Uhw1.100.cfg"),
        )
    }
)


def device_files(model: Model, mac: str) -> list[tuple[str, VendorFile]]:
    params = model.file_params(mac)
    return [(f.name(params), f) for f in model.vendor.files if f.scope == "device"]


def common_files(model: Model) -> list[tuple[str, VendorFile]]:
    params = model.file_params()
    return [(f.name(params), f) for f in model.vendor.files if f.scope == "common"]
