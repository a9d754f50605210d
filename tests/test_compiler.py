"""Every shipped template compiles and renders a well-formed vendor file for 0, 1 and 6 lines."""

from __future__ import annotations

import pytest

from control.domain.catalog import MODELS, Model, common_files, device_files
from control.domain.variables import DeviceData, LineData, TenantData, device_values
from control.publish.compiler import Compiler
from provedge.formats import store
from tests.vendorcheck import parse_xml, yealink_includes, yealink_settings

TENANT = TenantData(
    name="acme",
    realm="acme.example.com",
    sip_server="pbx.acme.example.com",
    sip_port=5062,
    sip_transport="tcp",
    provisioning_url="http://prov.example/p/K/",
)


def device(model: Model, lines: int) -> DeviceData:
    return DeviceData(
        mac="001565aabbcc",
        model=model,
        name='Desk <1> & "co"',
        admin_password="adm1n-Secret",
        lines=tuple(
            LineData(
                user=f"10{n}",
                auth_user=f"auth10{n}",
                password=f"pw-{n}&<x>",
                display_name=f"User {n}",
                label=f"10{n}",
                expires=3600,
            )
            for n in range(1, lines + 1)
        ),
    )


@pytest.fixture(scope="module")
def compiler() -> Compiler:
    return Compiler()


def _bodies(compiler: Compiler, dev: DeviceData) -> dict[str, bytes]:
    files = compiler.device_files("K", TENANT, dev)
    names = [name for name, _ in device_files(dev.model, dev.mac)]
    return {name: store.decode_blob(files[store.blob_key("K", name)]).body for name in names}


@pytest.mark.parametrize("model_id", sorted(MODELS))
@pytest.mark.parametrize("lines", [0, 1, 6])
def test_device_files_are_well_formed(compiler: Compiler, model_id: str, lines: int) -> None:
    model = MODELS[model_id]
    bodies = _bodies(compiler, device(model, lines))
    vendor = model.vendor.id
    for name, body in bodies.items():
        if vendor == "yealink":
            settings = yealink_settings(body)
            if name.endswith(".boot"):
                assert yealink_includes(body) == [
                    f"y0000000000{model.params['hwid']}.cfg",
                    "001565aabbcc.cfg",
                ]
            if name.endswith(".cfg"):
                assert sum(v == "1" for k, v in settings.items() if k.endswith(".enable")) == lines
                if lines:
                    assert settings["account.1.password"] == "pw-1&<x>"
                    assert settings["account.1.sip_server.1.transport_type"] == "1"
        elif vendor == "polycom":
            root = "APPLICATION" if name == "001565aabbcc.cfg" else "polycomConfig"
            element = parse_xml(body, root)
            if root == "polycomConfig":
                registered = [
                    k for k, v in element.attrib.items() if k.endswith(".register") and v == "1"
                ]
                assert len(registered) == lines
                if lines:
                    assert element.attrib["reg.1.auth.password"] == "pw-1&<x>"
                    assert element.attrib["reg.1.server.1.transport"] == "TCPOnly"
        elif vendor.startswith("cisco"):
            element = parse_xml(body, "flat-profile")
            enabled = [e for e in element if e.tag.startswith("Line_Enable_") and e.text == "Yes"]
            assert len(enabled) == lines
            assert element.findtext("Station_Name") == 'Desk <1> & "co"'
        elif vendor == "grandstream":
            element = parse_xml(body, "gs_provision")
            assert element.findtext("config/P271") == ("1" if lines else "0")
            if lines == 6:
                assert element.findtext("config/P1806") == "pw-6&<x>"
        elif vendor == "snom":
            if name.endswith(".htm"):
                index = parse_xml(body, "setting-files")
                assert index.find("file").get("url") == "http://prov.example/p/K/001565AABBCC.xml"
            else:
                element = parse_xml(body, "settings")
                active = [e for e in element.iter("user_active") if e.text == "on"]
                assert len(active) == lines
        elif vendor == "fanvil":
            element = parse_xml(body, "sysConf")
            assert [line.findtext("EnableReg") for line in element.iter("line")].count("1") == lines
        else:  # pragma: no cover - a new vendor must be added here
            pytest.fail(f"no well-formedness check for {vendor}")


@pytest.mark.parametrize("model_id", sorted(MODELS))
def test_common_files_are_well_formed(compiler: Compiler, model_id: str) -> None:
    model = MODELS[model_id]
    files = compiler.tenant_files("K", TENANT)
    for name, vfile in common_files(model):
        body = store.decode_blob(files[store.blob_key("K", name)]).body
        if model.vendor.id == "yealink":
            assert (
                yealink_settings(body)["static.auto_provision.server.url"]
                == TENANT.provisioning_url
            )
        else:
            assert body.startswith(b"<")
            parse_xml(body, parse_xml_root(model.vendor.id, name))


def parse_xml_root(vendor: str, name: str) -> str:
    if vendor == "polycom":
        return "APPLICATION" if name.startswith("0000") else "polycomConfig"
    return {
        "cisco-spa": "flat-profile",
        "cisco-mpp": "flat-profile",
        "grandstream": "gs_provision",
        "snom": "settings",
        "fanvil": "sysConf",
    }[vendor]


def test_a_value_with_a_newline_cannot_inject_a_yealink_setting(compiler: Compiler) -> None:
    model = MODELS["yealink-t46s"]
    evil = DeviceData(
        mac="001565aabbcc",
        model=model,
        name="x",
        admin_password="a",
        lines=(
            LineData(
                user="1",
                auth_user="1",
                password="p\naccount.1.enable = 0",
                display_name="d",
                label="l",
            ),
        ),
    )
    settings = yealink_settings(_bodies(compiler, evil)["001565aabbcc.cfg"])
    assert settings["account.1.enable"] == "1"


def test_unused_lines_render_disabled_with_empty_credentials() -> None:
    values = device_values(TENANT, device(MODELS["snom-d785"], 1))
    assert values["line1.enabled"] == "on" and values["line2.enabled"] == "off"
    assert values["line2.password"] == "" and values["line6.user"] == ""
