"""Each advanced sample (templates/<vendor>/advanced/*.j2) renders the Default template's bytes.

For every catalogue model and every file of its vendor, the Default template (through the
compiler's plan) and its Jinja2 sample (through control.publish.advanced) get the same values and
must give identical bytes, for devices with 0, 1 and 6 lines. The values are chosen to need
escaping (XML specials, control characters, a newline in a password, non-ASCII names), so
the samples are shown to rely on the engine's escaping exactly as the Default set does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from control.domain.catalog import MAX_LINES, MODELS, Model, VendorFile
from control.domain.variables import DeviceData, LineData, TenantData, common_values, device_values
from control.publish import compiler as compiler_module
from control.publish.advanced import AdvancedTemplate, compile_advanced
from control.publish.compiler import Compiler
from control.publish.samples import (
    SAMPLE_SUFFIX,
    SAMPLES_DIR,
    TEMPLATES_DIR,
    advanced_sample_path,
    default_template_path,
)

TRICKY = "& < > \" ' $$ ${x} {{ x }} {% x %}"

TENANT = TenantData(
    name=f"Acme & Söhne <GmbH> \"'{TRICKY}",
    realm="acme.example.com",
    sip_server="pbx.acme.example.com",
    sip_port=5061,
    sip_transport="tls",
    timezone="Europe/Zürich",
    ntp_server="ntp.example.com",
    language="Français",
    provisioning_url="https://prov.example/p/K3y&x=<1>/",
)


def _line(n: int) -> LineData:
    return LineData(
        user=f"10{n}",
        auth_user=f"auth10{n}&'",
        # A newline, a tab, a C0 control and U+2028: the `line` mode turns each into a
        # space (Yealink text), the `xml` mode keeps LF/TAB and blanks the C0 control.
        password=f"pw-{n}\naccount.{n}.enable = 0\t\x01\u2028<&>\"'",
        display_name=f"Zoë Ñandú {n} <\"ü\"> & 'co' ☎",
        label=f"Ext {n} & <Lbl>{TRICKY}",
        expires=3599 + n,
        blf=(f"20{n}", f"30{n}&"),
        enabled=n != 3,  # a disabled account among the six
    )


def _device(model: Model, lines: int) -> DeviceData:
    return DeviceData(
        mac="001565aabbcc",
        model=model,
        name=f'Desk <1> & "Zoë\'s" {TRICKY}',
        admin_password="adm1n&<S>\"'\n",
        background="0123456789abcdef",  # a chosen background: its URL in each file
        hotdesk_pin="1234",
        lines=tuple(_line(n) for n in range(1, lines + 1)),
    )


def _cases() -> list[Any]:  # pytest.param(...) objects
    cases = []
    for model_id in sorted(MODELS):
        model = MODELS[model_id]
        for vendor_file in model.vendor.files:
            counts = (0, 1, MAX_LINES) if vendor_file.scope == "device" else (None,)
            for lines in counts:
                case_id = f"{model_id}-{vendor_file.pattern}-{vendor_file.scope}"
                if lines is not None:
                    case_id += f"-{lines}lines"
                cases.append(pytest.param(model, vendor_file, lines, id=case_id))
    return cases


@pytest.fixture(scope="module")
def compiler() -> Compiler:
    return Compiler()


_SAMPLES: dict[tuple[str, str], AdvancedTemplate] = {}


def _sample(vendor_file: VendorFile) -> AdvancedTemplate:
    key = (vendor_file.template, vendor_file.escape)
    if key not in _SAMPLES:
        path = advanced_sample_path(vendor_file)
        source = path.read_text(encoding="utf-8")
        _SAMPLES[key] = compile_advanced(source, name=str(path), escape=vendor_file.escape)
    return _SAMPLES[key]


@pytest.mark.parametrize(("model", "vendor_file", "lines"), _cases())
def test_sample_renders_the_default_templates_bytes(
    compiler: Compiler, model: Model, vendor_file: VendorFile, lines: int | None
) -> None:
    if vendor_file.scope == "device":
        assert lines is not None
        values = device_values(TENANT, _device(model, lines))
    else:
        values = common_values(TENANT, model)
    default = compiler.plan(vendor_file, model).render(values)
    advanced = _sample(vendor_file).render(values)
    assert advanced == default


@pytest.mark.parametrize("vendor_id", ["yealink", "polycom"])
def test_values_really_need_escaping(compiler: Compiler, vendor_id: str) -> None:
    """Guards the test above: the rendered files do contain escaped values."""
    model = next(m for m in MODELS.values() if m.vendor.id == vendor_id)
    vendor_file = next(
        f for f in model.vendor.files if f.template.endswith(("mac.cfg", "user.cfg"))
    )
    body = compiler.plan(vendor_file, model).render(device_values(TENANT, _device(model, 6)))
    assert "Zoë Ñandú 6".encode() in body
    if vendor_file.escape == "line":
        assert b"account.1.password = pw-1 account.1.enable = 0   <&>\"'\n" in body
        assert b"account.3.enable = 0\n" in body
    else:
        assert (
            b'reg.1.auth.password="pw-1\naccount.1.enable = 0\t \xe2\x80\xa8&lt;&amp;&gt;' in body
        )
        assert b'reg.3.server.1.register="0"/>\n' not in body  # line 3 is not the last
        assert b'reg.6.server.1.register="1"\n' in body
        assert body.endswith(b'attendant.resourceList.10.type=""/>\n')  # the key slots close it


def _default_templates_on_disk() -> set[Path]:
    return {
        path
        for path in TEMPLATES_DIR.glob("*/*")
        if path.is_file() and path.parent.name != SAMPLES_DIR
    }


def test_every_catalogue_template_and_every_default_template_has_a_sample() -> None:
    catalogue = {f for model in MODELS.values() for f in model.vendor.files}
    referenced = {default_template_path(f) for f in catalogue}
    assert referenced == _default_templates_on_disk()
    missing = sorted(
        str(advanced_sample_path(f)) for f in catalogue if not advanced_sample_path(f).is_file()
    )
    assert missing == []


def test_no_orphan_samples() -> None:
    samples = {advanced_sample_path(f) for model in MODELS.values() for f in model.vendor.files}
    on_disk = set(TEMPLATES_DIR.glob(f"**/*{SAMPLE_SUFFIX}"))
    orphans = sorted(str(p.relative_to(TEMPLATES_DIR)) for p in on_disk - samples)
    assert orphans == []
    for path in on_disk:
        assert path.parent.name == SAMPLES_DIR
        default = path.parent.parent / path.name.removesuffix(SAMPLE_SUFFIX)
        assert default.is_file(), f"{path} has no Default template {default}"


def test_sample_paths() -> None:
    assert TEMPLATES_DIR == compiler_module.DEFAULT_TEMPLATES
    vendor_file = MODELS["yealink-t46s"].vendor.files[1]
    assert default_template_path(vendor_file) == TEMPLATES_DIR / "yealink" / "mac.boot"
    assert (
        advanced_sample_path(vendor_file) == TEMPLATES_DIR / "yealink" / "advanced" / "mac.boot.j2"
    )
    other = Path("/srv/templates")
    assert (
        advanced_sample_path(vendor_file, other) == other / "yealink" / "advanced" / "mac.boot.j2"
    )
