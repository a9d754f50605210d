"""BLF keys read back from each vendor's rendered file, with both Default engines.

A device with 2 lines and 2 BLF keys (2002 "Bob", 2003 with no label): the keys land on
the phone's keys 3 and 4 (after the lines) in the vendor's own settings
(shared/reference/vendor-settings-audit.md, "BLF keys"); key slots past them render cleared.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType

import pytest

from control.domain.catalog import MODELS, device_files
from control.domain.keys import KeyData
from control.domain.variables import DeviceData, LineData, TenantData
from control.publish import compiler as compiler_module
from control.publish.compiler import Compiler
from edge import _fastrender, _fastrender_py
from provedge.formats import store
from tests.vendorcheck import (
    fanvil_settings,
    flat_settings,
    parse_xml,
    polycom_settings,
    yealink_settings,
)

TENANT = TenantData(name="acme", realm="acme.example.com", sip_server="pbx.acme.example.com")
MAC = "001565aabbcc"
KEYS = (KeyData("2002", "Bob"), KeyData("2003", ""))


def _device(model_id: str) -> DeviceData:
    lines = tuple(
        LineData(user=f"10{n}", auth_user=f"10{n}", password=f"pw-{n}", display_name="d", label="l")
        for n in (1, 2)
    )
    return DeviceData(MAC, MODELS[model_id], "desk", "Adm1n-Secret_x", lines=lines, keys=KEYS)


@pytest.fixture(params=[_fastrender, _fastrender_py], ids=["cython", "python"])
def compiler(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Compiler]:
    engine: ModuleType = request.param
    monkeypatch.setattr(compiler_module.fastrender, "compile_template", engine.compile_template)
    yield Compiler()


def _file(compiler: Compiler, model_id: str, suffix: str) -> bytes:
    dev = _device(model_id)
    blobs = compiler.device_files("K", TENANT, dev)
    name = next(n for n, _ in device_files(dev.model, MAC) if n.endswith(suffix))
    return store.decode_blob(blobs[store.blob_key("K", name)]).body


def test_yealink(compiler: Compiler) -> None:
    s = yealink_settings(_file(compiler, "yealink-t46s", f"{MAC}.cfg"))
    assert (s["linekey.3.type"], s["linekey.3.value"], s["linekey.3.label"]) == (
        "16",
        "2002",
        "Bob",
    )
    assert (s["linekey.4.type"], s["linekey.4.value"], s["linekey.4.label"]) == (
        "16",
        "2003",
        "2003",
    )
    assert s["linekey.3.line"] == "1"
    assert (s["linekey.5.type"], s["linekey.5.value"]) == ("0", "")  # cleared
    assert "linekey.1.type" not in s  # the lines' own keys are left alone


def test_polycom(compiler: Compiler) -> None:
    s = polycom_settings(_file(compiler, "polycom-vvx410", "-user.cfg"))
    assert s["attendant.resourceList.1.address"] == "2002@acme.example.com"
    assert s["attendant.resourceList.1.label"] == "Bob"
    assert s["attendant.resourceList.1.type"] == "normal"
    assert s["attendant.resourceList.2.address"] == "2003@acme.example.com"
    assert s["attendant.resourceList.3.address"] == ""


@pytest.mark.parametrize("model_id", ["cisco-spa508g", "cisco-cp8841"])
def test_cisco(compiler: Compiler, model_id: str) -> None:
    s = flat_settings(_file(compiler, model_id, f"{MAC}.xml"), "flat-profile")
    assert s["Extension_3_"] == "Disabled"
    assert s["Extended_Function_3_"] == "fnc=blf+sd+cp;sub=2002@acme.example.com;nme=Bob"
    assert s["Extended_Function_4_"] == "fnc=blf+sd+cp;sub=2003@acme.example.com;nme=2003"
    assert (s["Extension_5_"], s["Extended_Function_5_"]) == ("5", "")  # back to its default


def test_grandstream(compiler: Compiler) -> None:
    s = flat_settings(_file(compiler, "grandstream-gxp2135", f"cfg{MAC}.xml"), "gs_provision")
    # key 3: mode P1367, account P1368, label P1469, value P1470
    assert (s["P1367"], s["P1368"], s["P1469"], s["P1470"]) == ("11", "0", "Bob", "2002")
    assert (s["P1369"], s["P1472"]) == ("11", "2003")
    assert (s["P1371"], s["P1474"]) == ("0", "")


def test_snom(compiler: Compiler) -> None:
    root = parse_xml(_file(compiler, "snom-d785", f"{MAC.upper()}.xml"), "settings")
    keys = {k.get("idx"): k for k in root.iter("fkey")}
    assert keys["2"].text == "blf sip:2002@acme.example.com"
    assert (keys["2"].get("label"), keys["2"].get("context"), keys["2"].get("perm")) == (
        "Bob",
        "active",
        "R",
    )
    assert keys["3"].text == "blf sip:2003@acme.example.com"
    assert keys["4"].text == "none"
    assert "0" not in keys and "1" not in keys  # the line keys stay lines


def test_fanvil(compiler: Compiler) -> None:
    s = fanvil_settings(_file(compiler, "fanvil-x4u", f"{MAC}.cfg"))
    key = "dsskey/dssSide[1]/Fkey[3]/"
    assert (s[key + "Type"], s[key + "Value"], s[key + "Title"]) == ("1", "2002@1/b", "Bob")
    assert s["dsskey/dssSide[1]/Fkey[4]/Value"] == "2003@1/b"
    assert (s["dsskey/dssSide[1]/Fkey[5]/Type"], s["dsskey/dssSide[1]/Fkey[5]/Value"]) == ("0", "")


def test_xml_specials_in_a_label_stay_well_formed(compiler: Compiler) -> None:
    dev = DeviceData(MAC, MODELS["snom-d785"], "desk", "x", keys=(KeyData("2002", '<&"Bob">'),))
    blobs = compiler.device_files("K", TENANT, dev)
    body = store.decode_blob(blobs[store.blob_key("K", f"{MAC.upper()}.xml")]).body
    fkey = next(parse_xml(body, "settings").iter("fkey"))
    assert fkey.get("label") == '<&"Bob">'
