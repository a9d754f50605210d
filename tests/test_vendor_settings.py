"""Each vendor's file carries the right settings, read back by the vendor's own names.

A tenant in Europe/Berlin with German and TLS, a device with 2 lines: every family's
rendered files are parsed (tests/vendorcheck.py) and the settings the vendor-settings
audit lists are read back by name. Timezone rules are checked against zoneinfo for zones
across offsets, half hours and hemispheres; names the API accepts always give well-formed
files; the per-model limits and the language fallback are the service's.
"""

from __future__ import annotations

import dataclasses
import string
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from control.api.schemas import (
    AccountIn,
    DeviceIn,
    DevicePatch,
    ExtensionIn,
    TenantIn,
    TenantPatch,
)
from control.domain import locale
from control.domain.catalog import MODELS, common_files, device_files
from control.domain.errors import ServiceError
from control.domain.passwords import new_password
from control.domain.variables import DeviceData, LineData, TenantData
from control.publish.compiler import Compiler
from control.wiring import build_control
from provedge.formats import store
from tests.vendorcheck import (
    fanvil_settings,
    flat_settings,
    parse_xml,
    polycom_settings,
    snom_settings,
    yealink_settings,
)

URL = "https://prov.example/p/K/"
TENANT = TenantData(
    name="acme",
    realm="acme.example.com",
    sip_server="pbx.acme.example.com",
    sip_port=5061,
    sip_transport="tls",
    timezone="Europe/Berlin",
    ntp_server="ntp.acme.example.com",
    language="German",
    provisioning_url=URL,
)
ADMIN = "Adm1n-Secret_x"
MAC = "001565aabbcc"


def _device(model_id: str, name: str = "Front desk", lines: int = 2) -> DeviceData:
    return DeviceData(
        mac=MAC,
        model=MODELS[model_id],
        name=name,
        admin_password=ADMIN,
        lines=tuple(
            LineData(
                user=f"10{n}",
                auth_user=f"10{n}",
                password=f"pw-{n}",
                display_name=f"{name} {n}",
                label=name,
                expires=600 * n,
            )
            for n in range(1, lines + 1)
        ),
    )


@pytest.fixture(scope="module")
def compiler() -> Compiler:
    return Compiler()


def _files(compiler: Compiler, dev: DeviceData, tenant: TenantData = TENANT) -> dict[str, bytes]:
    """Every file of the device's model, common and per-device, by name."""
    blobs = {**compiler.tenant_files("K", tenant), **compiler.device_files("K", tenant, dev)}
    names = [n for n, _ in common_files(dev.model)] + [n for n, _ in device_files(dev.model, MAC)]
    return {n: store.decode_blob(blobs[store.blob_key("K", n)]).body for n in names}


# ---- one family each: Berlin, German, TLS, 2 lines ---------------------------------------
def test_yealink(compiler: Compiler) -> None:
    files = _files(compiler, _device("yealink-t46s"))
    common = yealink_settings(files["y000000000066.cfg"])
    assert common["local_time.ntp_server1"] == "ntp.acme.example.com"
    assert common["local_time.time_zone"] == "+1"
    assert common["local_time.time_zone_name"] == "Europe/Berlin"
    assert common["local_time.summer_time"] == "1"
    assert common["local_time.dst_time_type"] == "1"
    assert common["local_time.start_time"] == "3/5/7/2"  # last Sunday of March, 02:00
    assert common["local_time.end_time"] == "10/5/7/3"
    assert common["local_time.offset_time"] == "60"
    assert common["lang.gui"] == common["lang.wui"] == common["static.lang.wui"] == "German"
    assert common["custom.handset.language"] == "2"
    mac = yealink_settings(files[f"{MAC}.cfg"])
    assert mac["static.security.user_password"] == f"admin:{ADMIN}"  # user:password
    assert mac["account.2.enable"] == "1" and mac["account.3.enable"] == "0"
    assert mac["account.2.sip_server.1.transport_type"] == "2"
    assert mac["account.2.sip_server.1.expires"] == "1200"


def test_polycom(compiler: Compiler) -> None:
    files = _files(compiler, _device("polycom-vvx410"))
    master = parse_xml(files[f"{MAC}.cfg"], "APPLICATION")
    assert master.get("APP_FILE_PATH") == ""  # no firmware file the edge does not serve
    common = polycom_settings(files["common.cfg"])
    assert common["tcpIpApp.sntp.address"] == "ntp.acme.example.com"
    assert common["tcpIpApp.sntp.gmtOffset"] == "3600"
    assert common["tcpIpApp.sntp.gmtOffset.overrideDHCP"] == "1"
    assert common["tcpIpApp.sntp.daylightSavings.enable"] == "1"
    assert common["tcpIpApp.sntp.daylightSavings.fixedDayEnable"] == "0"
    start = "tcpIpApp.sntp.daylightSavings.start."
    stop = "tcpIpApp.sntp.daylightSavings.stop."
    assert common[start + "month"] == "3" and common[stop + "month"] == "10"
    assert common[start + "dayOfWeek"] == common[stop + "dayOfWeek"] == "1"  # Sunday
    assert common[start + "dayOfWeek.lastInMonth"] == "1"
    assert common[start + "time"] == "2" and common[stop + "time"] == "3"
    assert common["lcl.ml.lang"] == "German_Germany"
    user = polycom_settings(files[f"{MAC}-user.cfg"])
    assert user["device.auth.localAdminPassword"] == ADMIN
    # a device.* setting is applied only with its own .set and device.set
    assert user["device.auth.localAdminPassword.set"] == user["device.set"] == "1"
    assert user["reg.2.server.1.transport"] == "TLS"
    assert user["reg.2.server.1.register"] == "1" and user["reg.3.server.1.register"] == "0"


@pytest.mark.parametrize(
    ("model_id", "common_name"),
    [("cisco-spa508g", "spa508G.cfg"), ("cisco-cp8841", "8841-3PCC.xml")],
)
def test_cisco(compiler: Compiler, model_id: str, common_name: str) -> None:
    files = _files(compiler, _device(model_id))
    for name, _ in common_files(MODELS[model_id]):
        common = flat_settings(files[name], "flat-profile")
        # each resync fetches the common file again, then the phone's own
        assert common["Profile_Rule"] == URL + common_name
        assert common["Profile_Rule_B"] == URL + "$MA.xml"
        assert common["Primary_NTP_Server"] == "ntp.acme.example.com"
        assert common["Time_Zone"] == "GMT+01:00"
        assert common["Daylight_Saving_Time_Enable"] == "Yes"
        assert (
            common["Daylight_Saving_Time_Rule"]
            == "start=3/-1/7/02:00:00;end=10/-1/7/03:00:00;save=01:00:00"
        )
        assert common["Language_Selection"] == "German"
        assert common["Locale"] == "de-DE"
    mac = flat_settings(files[f"{MAC}.xml"], "flat-profile")
    assert mac["Admin_Password"] == ADMIN  # MPP's name
    assert mac["Admin_Passwd"] == ADMIN  # SPA's name
    assert mac["SIP_Transport_2_"] == "TLS"
    assert mac["Line_Enable_2_"] == "Yes" and mac["Line_Enable_3_"] == "No"


def test_grandstream(compiler: Compiler) -> None:
    files = _files(compiler, _device("grandstream-gxp2135"))
    common = flat_settings(files["cfggxp2135.xml"], "gs_provision")
    assert common["P30"] == "ntp.acme.example.com"
    assert common["P64"] == "CET-1CEST-2,M3.5.0/02:00:00,M10.5.0/03:00:00"
    assert common["P1362"] == "de"
    mac = flat_settings(files[f"cfg{MAC}.xml"], "gs_provision")
    assert mac["P2"] == ADMIN  # the admin password
    assert mac["P401"] == "1" and mac["P501"] == "0"
    assert mac["P32"] == "10" and mac["P412"] == "20"  # expiry in minutes, lines 1 and 2
    for expiry in ("P512", "P612", "P1712", "P1812"):
        assert mac[expiry] == "0"
    for t1_timer in ("P440", "P540", "P640", "P1740", "P1840"):
        assert t1_timer not in mac  # the accounts' SIP T1 timer, left alone
    assert mac["P448"] == "2"  # TLS


def test_snom(compiler: Compiler) -> None:
    files = _files(compiler, _device("snom-d785"))
    common = snom_settings(files["snomD785.htm"])
    assert common["ntp_server"] == "ntp.acme.example.com"
    assert common["language"] == common["web_language"] == "Deutsch"
    assert common["utc_offset"] == "+3600"
    assert common["dst"] == "3600 03.05.07 02:00:00 10.05.07 03:00:00"
    mac = snom_settings(files["001565AABBCC.xml"])
    assert mac["admin_mode_password"] == mac["http_pass"] == ADMIN
    assert mac["http_user"] == "admin"
    assert mac["user_host[2]"] == "pbx.acme.example.com:5061"
    assert mac["user_outbound[2]"] == "pbx.acme.example.com:5061;transport=tls"
    assert mac["user_active[2]"] == "on" and mac["user_active[3]"] == "off"


def test_fanvil(compiler: Compiler) -> None:
    files = _files(compiler, _device("fanvil-x4u"))
    common = fanvil_settings(files["f0X4Uhw1.100.cfg"])
    assert common["phone/date/EnableSNTP"] == "1"
    assert common["phone/date/SNTPServer"] == "ntp.acme.example.com"
    assert common["phone/date/TimeZone"] == "4"  # quarter hours
    assert common["phone/date/TimeZoneName"] == "UTC+1"
    assert common["phone/display/DefaultLanguage"] == "de"
    mac = fanvil_settings(files[f"{MAC}.cfg"])
    assert mac["web/account[1]/Name"] == "admin"
    assert mac["web/account[1]/Password"] == ADMIN
    assert mac["web/account[1]/Level"] == "10"
    assert mac["sip/line[2]/Transport"] == "3"  # Fanvil's TLS
    assert mac["sip/line[2]/EnableReg"] == "1" and mac["sip/line[3]/EnableReg"] == "0"


# ---- timezones against zoneinfo ----------------------------------------------------------
ZONES = [
    "UTC",
    "Europe/Berlin",
    "Europe/London",
    "Europe/Dublin",  # negative DST in the IANA data: winter is the smaller offset
    "Europe/Moscow",
    "Atlantic/Azores",
    "Africa/Cairo",
    "Africa/Johannesburg",
    "America/New_York",
    "America/Chicago",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/St_Johns",  # -03:30 with DST
    "America/Sao_Paulo",
    "America/Santiago",  # southern, DST
    "America/Havana",
    "Pacific/Honolulu",
    "Asia/Kolkata",  # +05:30
    "Asia/Kathmandu",  # +05:45
    "Asia/Tehran",  # +03:30
    "Asia/Tokyo",
    "Asia/Shanghai",
    "Australia/Adelaide",  # +09:30, southern DST
    "Australia/Darwin",  # +09:30, none
    "Australia/Sydney",
    "Australia/Lord_Howe",  # half-hour DST
    "Australia/Brisbane",
    "Pacific/Auckland",
    "Pacific/Chatham",  # +12:45
    "Pacific/Kiritimati",  # +14
]
YEAR = datetime.now(UTC).year


def _offset(tz: ZoneInfo, at: datetime) -> int:
    return int(at.astimezone(tz).utcoffset().total_seconds())  # type: ignore[union-attr]


@pytest.mark.parametrize("name", ZONES)
def test_zone_rules_match_zoneinfo(name: str) -> None:
    tz, z = ZoneInfo(name), locale.zone(name, YEAR)
    samples = [_offset(tz, datetime(YEAR, m, 15, 12, tzinfo=UTC)) for m in range(1, 13)]
    if z.dst_offset is None:
        assert set(samples) == {z.std_offset}
        return
    assert set(samples) == {z.std_offset, z.dst_offset}
    assert z.start is not None and z.end is not None
    for change, before, after in (
        (z.start, z.std_offset, z.dst_offset),
        (z.end, z.dst_offset, z.std_offset),
    ):
        # the rule's local wall time, in the offset before the change, is the instant
        local = datetime(YEAR, change.month, change.day(YEAR), tzinfo=UTC) + timedelta(
            seconds=change.seconds
        )
        instant = local - timedelta(seconds=before)
        assert _offset(tz, instant - timedelta(seconds=1)) == before, name
        assert _offset(tz, instant) == after, name


@pytest.mark.parametrize(
    ("name", "yealink", "cisco", "fanvil", "polycom"),
    [
        ("Asia/Kolkata", "+5:30", "GMT+05:30", "22", "19800"),
        ("Australia/Adelaide", "+9:30", "GMT+09:30", "38", "34200"),
        ("Asia/Kathmandu", "+5:45", "GMT+05:45", "23", "20700"),
        ("America/St_Johns", "-3:30", "GMT-03:30", "-14", "-12600"),
        ("America/New_York", "-5", "GMT-05:00", "-20", "-18000"),
        ("UTC", "+0", "GMT+00:00", "0", "0"),
    ],
)
def test_offsets_in_each_notation(
    name: str, yealink: str, cisco: str, fanvil: str, polycom: str
) -> None:
    assert locale.tz_values("yealink", name, "1", "0")["tz.offset"] == yealink
    assert locale.tz_values("cisco-mpp", name, "Yes", "No")["tz.offset"] == cisco
    assert locale.tz_values("fanvil", name, "1", "0")["tz.offset"] == fanvil
    assert locale.tz_values("fanvil", name, "1", "0")["tz.name"] == "UTC" + yealink
    assert locale.tz_values("polycom", name, "1", "0")["tz.offset"] == polycom
    assert locale.tz_values("snom", name, "on", "off")["tz.offset"] == f"{int(polycom):+d}"


def test_southern_and_half_hour_rules() -> None:
    adelaide = locale.zone("Australia/Adelaide", YEAR)
    assert locale.posix_tz(adelaide) == "ACST-9:30ACDT-10:30,M10.1.0/02:00:00,M4.1.0/03:00:00"
    cisco = locale.tz_values("cisco-spa", "Australia/Adelaide", "Yes", "No")
    assert cisco["tz.rule"] == "start=10/1/7/02:00:00;end=4/1/7/03:00:00;save=01:00:00"
    assert locale.posix_tz(locale.zone("Asia/Kathmandu", YEAR)) == "<+0545>-5:45"
    us = locale.tz_values("cisco-spa", "America/New_York", "Yes", "No")  # 2nd Sunday, 1st Sunday
    assert us["tz.rule"] == "start=3/8/7/02:00:00;end=11/1/7/02:00:00;save=01:00:00"
    none = locale.tz_values("yealink", "Asia/Kolkata", "1", "0")
    assert none["tz.dst"] == "0" and none["tz.start"] == ""


def test_an_unknown_zone_renders_utc() -> None:
    assert locale.tz_values("grandstream", "Mars/Olympus", "1", "0") == {"tz.posix": "UTC0"}


# ---- names the API accepts give well-formed files ----------------------------------------
ONE_MODEL_PER_VENDOR = sorted({m.vendor.id: m.id for m in MODELS.values()}.values())
# Any text without the control characters the API refuses (control.domain.refs).
_API_TEXT = st.text(
    st.characters(exclude_categories=("Cc", "Cs"), exclude_characters="\u2028\u2029"),
    min_size=1,
    max_size=128,
)


def _accepted(name: str) -> str | None:
    try:
        tenant = TenantIn(name=name, realm="a.example", sip_server="pbx.a.example")
        return DevicePatch(name=tenant.name).name
    except ValidationError:
        return None


def _root(body: bytes) -> str:
    return ET.fromstring(body).tag  # raises on a malformed file


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=_API_TEXT)
@example(raw="Front--Desk")
@example(raw="Desk-")
@example(raw="--> <!-- &amp; ]]>")
def test_any_accepted_name_gives_well_formed_files(compiler: Compiler, raw: str) -> None:
    name = _accepted(raw)
    if name is None:
        return
    tenant = dataclasses.replace(TENANT, name=name)
    for model_id in ONE_MODEL_PER_VENDOR:
        for file_name, body in _files(compiler, _device(model_id, name, 6), tenant).items():
            vendor = MODELS[model_id].vendor.id
            try:
                if vendor == "yealink":
                    yealink_settings(body)
                else:
                    _root(body)
            except (ET.ParseError, AssertionError) as exc:  # pragma: no cover - the report
                pytest.fail(f"{model_id} {file_name} malformed for name {name!r}: {exc}")


# ---- API rules: timezone, language, per-model limits, passwords --------------------------
def test_timezone_and_language_are_validated() -> None:
    base = {"name": "t", "realm": "t.example", "sip_server": "pbx.t.example"}
    assert TenantIn(**base, timezone="Asia/Kathmandu", language="German").timezone
    for field, bad in (
        ("timezone", "Mars/Olympus"),
        ("timezone", "CET+1"),
        ("language", "Klingon"),
    ):
        for model, body in ((TenantIn, {**base, field: bad}), (TenantPatch, {field: bad})):
            with pytest.raises(ValidationError) as caught:
                model(**body)
            assert [e["loc"] for e in caught.value.errors()] == [(field,)]


def test_lines_beyond_the_models_accounts_are_refused(tmp_path: Path) -> None:
    ctl = build_control(tmp_path, "http://edge.example:8081")
    try:
        tenant = ctl.create_tenant(TenantIn(name="t", realm="t.ex", sip_server="pbx.t.ex"))
        numbers = []
        for n in range(3):
            account = ctl.create_account(AccountIn(tenant=tenant["id"], username=f"u{n}"))
            ctl.create_extension(
                ExtensionIn(tenant=tenant["id"], number=f"10{n}", accounts=[account["username"]])
            )
            numbers.append(f"10{n}")
        small = ctl.create_device(
            DeviceIn(tenant=tenant["id"], mac="001565000010", model="grandstream-grp2612w")
        )
        with pytest.raises(ServiceError) as caught:
            ctl.set_lines(small["mac"], numbers)
        assert caught.value.status == 422
        assert "2 SIP account" in caught.value.errors["lines"]
        assert len(ctl.set_lines(small["mac"], numbers[:2])["lines"]) == 2
        big = ctl.create_device(
            DeviceIn(tenant=tenant["id"], mac="001565000011", model="yealink-t46s")
        )
        ctl.set_lines(big["mac"], numbers)
        with pytest.raises(ServiceError) as caught:
            ctl.update_device(big["mac"], DevicePatch(model="grandstream-grp2612w"))
        assert caught.value.status == 422 and "2 SIP account" in caught.value.errors["model"]
        assert ctl.get_device(big["mac"])["model"] == "yealink-t46s"  # unchanged
        assert (
            ctl.update_device(big["mac"], DevicePatch(model="cisco-cp8841"))["model"]
            == "cisco-cp8841"
        )
    finally:
        ctl.close()


def test_every_model_has_its_limits() -> None:
    for model in MODELS.values():
        assert model.accounts >= 1 and model.line_keys >= 0
        assert 1 <= model.max_lines <= 6
        # labels are rendered into XML comments, where "--" may not appear
        assert "--" not in model.label and not model.label.endswith("-")
    assert MODELS["grandstream-grp2612w"].max_lines == 2
    assert MODELS["yealink-w52p"].max_lines == MODELS["cisco-spa525g"].max_lines == 5


def test_language_fallback_shows_in_the_device_view(tmp_path: Path) -> None:
    ctl = build_control(tmp_path, "http://edge.example:8081")
    try:
        tenant = ctl.create_tenant(
            TenantIn(name="nl", realm="t.ex", sip_server="pbx.t.ex", language="Dutch")
        )
        fanvil = ctl.create_device(
            DeviceIn(tenant=tenant["id"], mac="001565000020", model="fanvil-x4u")
        )
        assert (fanvil["language"], fanvil["language_fallback"]) == ("English", True)
        poly = ctl.create_device(
            DeviceIn(tenant=tenant["id"], mac="001565000021", model="polycom-vvx410")
        )
        assert (poly["language"], poly["language_fallback"]) == ("Dutch", False)
    finally:
        ctl.close()
    assert locale.lang_values("fanvil", "Dutch") == locale.lang_values("fanvil", "English")


def test_every_vendor_has_english() -> None:
    for model in MODELS.values():
        assert locale.language_for(model.vendor.id, "English").fallback is False


def test_generated_passwords_meet_mpps_rule() -> None:
    classes = (string.ascii_uppercase, string.ascii_lowercase, string.digits, "-_")
    for length in (8, 16, 20, 127):
        for _ in range(200):
            password = new_password(length)
            assert len(password) == length
            assert set(password) <= set(string.ascii_letters + string.digits + "-_")
            assert sum(any(c in cls for c in password) for cls in classes) >= 3
    with pytest.raises(ValueError):
        new_password(7)
