"""Each vendor's wallpaper setting read back from its rendered file, with both Default
engines: a chosen background points at the model's scaled file under the tenant's URL;
none chosen writes the vendor's "none"; a model that takes none never gets a URL."""

from __future__ import annotations

import pytest

from control.domain.catalog import MODELS, device_files
from control.domain.variables import DeviceData, TenantData
from control.publish.compiler import Compiler
from provedge.formats import store
from tests.vendorcheck import wallpaper_settings

BASE = "http://edge.example/p/KEY/"
TENANT = TenantData(name="acme", realm="a.example", sip_server="pbx.a", provisioning_url=BASE)
MAC = "001565aabbcc"
STEM = "0123456789abcdef"


_FILE = {"yealink": f"{MAC}.cfg", "polycom": f"{MAC}-user.cfg", "cisco-spa": f"{MAC}.xml",
         "cisco-mpp": f"{MAC}.xml", "grandstream": f"cfg{MAC}.xml", "snom": f"{MAC}.xml"}  # fmt: skip


def _setting(compiler: Compiler, model_id: str, stem: str) -> tuple[str, dict[str, str]]:
    model = MODELS[model_id]
    dev = DeviceData(MAC, model, "desk", "Adm1n-Secret_x", background=stem)
    blobs = compiler.device_files("K", TENANT, dev)
    name = next(n for n, _ in device_files(model, MAC) if n.lower() == _FILE[model.vendor.id])
    body = store.decode_blob(blobs[store.blob_key("K", name)]).body
    return wallpaper_settings(model.vendor.id.replace("cisco-mpp", "cisco-spa"), body)


@pytest.mark.parametrize(
    ("model_id", "file", "on", "off"),
    [
        ("yealink-t46s", "480x272.png", {"backgrounds": f"Config:{STEM}-480x272.png"},
         {"backgrounds": ""}),
        ("polycom-vvx410", "320x240.jpg", {"selection": "2,1", "enabled": "1"},
         {"selection": "1,1", "enabled": "0"}),
        ("cisco-spa525g", "320x240.bmp", {"select": "BMP Picture"}, {"select": "None"}),
        ("grandstream-gxp2135", "320x240.jpg", {"source": "1"}, {"source": "0"}),
        ("grandstream-grp2612w", "320x240.jpg", {"source": "1"}, {"source": "0"}),
        ("snom-d785", "480x272.png", {}, {}),
    ],
)  # fmt: skip
def test_a_chosen_background_and_none(
    engine_compiler: Compiler, model_id: str, file: str, on: dict[str, str], off: dict[str, str]
) -> None:
    assert _setting(engine_compiler, model_id, STEM) == (f"{BASE}bg/{STEM}-{file}", on)
    assert _setting(engine_compiler, model_id, "") == ("", off)


@pytest.mark.parametrize("model_id", ["cisco-spa508g", "cisco-cp8865", "snom-d345"])
def test_a_model_without_a_screen_for_it_never_gets_a_url(
    engine_compiler: Compiler, model_id: str
) -> None:
    """The API refuses the choice; were one stored, the file still names no image."""
    url, settings = _setting(engine_compiler, model_id, STEM)
    assert url == "" and settings.get("select", "None") == "None"
