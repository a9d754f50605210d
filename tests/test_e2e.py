"""End to end: real `provedge run` processes on loopback, phones booting as they really do.

Each phone fetches its boot files with its own User-Agent and follows the pointers its
vendor follows (Yealink boot includes, Polycom CONFIG_FILES, Cisco Profile_Rule, Snom
setting-files), then the test reads the SIP credentials out of that vendor's setting names.

The server is shared by the module; a test that changes a tenant or a device builds its
own (unique names and MACs), so no test sees another's changes, in any order.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.conftest import Provedge, unique_mac, unique_name, wait_job
from tests.vendorcheck import flat_settings, parse_xml, yealink_includes, yealink_settings

Creds = dict[str, str]
Fetch = Callable[[str], httpx.Response]

SIP_SERVER = "sip.e2e.example.net"


def _ok(response: httpx.Response) -> bytes:
    assert response.status_code == 200, f"{response.request.url} -> {response.status_code}"
    return response.content


def boot_yealink(fetch: Fetch, mac: str) -> Creds:
    boot = _ok(fetch(f"{mac}.boot"))
    assert yealink_settings(boot) == {"overwrite_mode": "1"}
    includes = yealink_includes(boot)
    bodies = {name: _ok(fetch(name)) for name in includes}
    common = yealink_settings(bodies[includes[0]])
    assert common["static.auto_provision.pnp_enable"] == "0"
    s = yealink_settings(bodies[f"{mac}.cfg"])
    return {
        "server": s["account.1.sip_server.1.address"],
        "port": s["account.1.sip_server.1.port"],
        "user": s["account.1.user_name"],
        "auth_user": s["account.1.auth_name"],
        "password": s["account.1.password"],
    }


def boot_polycom(fetch: Fetch, mac: str) -> Creds:
    master = parse_xml(_ok(fetch(f"{mac}.cfg")), "APPLICATION")
    files = [
        f.strip().replace("[PHONE_MAC_ADDRESS]", mac)
        for f in master.get("CONFIG_FILES", "").split(",")
    ]
    configs = [parse_xml(_ok(fetch(name)), "polycomConfig") for name in files]
    a = {key: value for config in configs for key, value in config.attrib.items()}
    return {
        "server": a["reg.1.server.1.address"],
        "port": a["reg.1.server.1.port"],
        "user": a["reg.1.address"],
        "auth_user": a["reg.1.auth.userId"],
        "password": a["reg.1.auth.password"],
    }


def cisco_resync(fetch: Fetch, mac: str, first: str) -> tuple[dict[str, str], ET.Element]:
    """A Cisco resync: the factory rule's file, then each profile rule in turn.

    ``Profile_Rule`` names the common file again (so tenant-wide settings keep arriving),
    ``Profile_Rule_B`` the phone's own file, with ``$MA`` its MAC."""
    common = flat_settings(_ok(fetch(first)), "flat-profile")
    rule, rule_b = common["Profile_Rule"], common["Profile_Rule_B"]
    assert not rule.endswith("$MA.xml") and rule_b.endswith("$MA.xml")
    again = flat_settings(_ok(fetch(httpx.URL(rule).path.rsplit("/", 1)[1])), "flat-profile")
    path = httpx.URL(rule_b.replace("$MA", mac)).path.rsplit("/", 1)[1]
    return again, parse_xml(_ok(fetch(path)), "flat-profile")


def _boot_cisco(fetch: Fetch, mac: str, first: str) -> Creds:
    _, p = cisco_resync(fetch, mac, first)
    server, _, port = (p.findtext("Proxy_1_") or "").partition(":")
    return {
        "server": server,
        "port": port,
        "user": p.findtext("User_ID_1_") or "",
        "auth_user": p.findtext("Auth_ID_1_") or "",
        "password": p.findtext("Password_1_") or "",
    }


def boot_cisco_spa(fetch: Fetch, mac: str) -> Creds:
    return _boot_cisco(fetch, mac, "spa508G.cfg")


def boot_cisco_mpp(fetch: Fetch, mac: str) -> Creds:
    assert fetch("CP-8841-3PCC.xml").status_code == 200
    return _boot_cisco(fetch, mac, "8841-3PCC.xml")


def boot_grandstream(fetch: Fetch, mac: str) -> Creds:
    parse_xml(_ok(fetch("cfggxp2135.xml")), "gs_provision")
    c = parse_xml(_ok(fetch(f"cfg{mac}.xml")), "gs_provision").find("config")
    assert c is not None
    server, _, port = (c.findtext("P47") or "").partition(":")
    return {
        "server": server,
        "port": port,
        "user": c.findtext("P35") or "",
        "auth_user": c.findtext("P36") or "",
        "password": c.findtext("P34") or "",
    }


def boot_snom(fetch: Fetch, mac: str) -> Creds:
    parse_xml(_ok(fetch("snomD785.htm")), "settings")
    index = parse_xml(_ok(fetch(f"snomD785-{mac.upper()}.htm")), "setting-files")
    url = index.find("file").get("url")  # type: ignore[union-attr]
    settings = parse_xml(_ok(fetch(httpx.URL(url).path.rsplit("/", 1)[1])), "settings")

    def one(tag: str) -> str:
        return next(e.text or "" for e in settings.iter(tag) if e.get("idx") == "1")

    host, _, rest = one("user_host").partition(":")
    return {
        "server": host,
        "port": rest.split(";")[0],
        "user": one("user_name"),
        "auth_user": one("user_pname"),
        "password": one("user_pass"),
    }


def boot_fanvil(fetch: Fetch, mac: str) -> Creds:
    parse_xml(_ok(fetch("f0X4Uhw1.100.cfg")), "sysConf")
    conf = parse_xml(_ok(fetch(f"{mac}.cfg")), "sysConf")
    line = next(e for e in conf.iter("line") if e.get("index") == "1")
    return {
        "server": line.findtext("RegisterAddr") or "",
        "port": line.findtext("RegisterPort") or "",
        "user": line.findtext("PhoneNumber") or "",
        "auth_user": line.findtext("RegisterUser") or "",
        "password": line.findtext("RegisterPswd") or "",
    }


# model, MAC as an operator might type it, the phone's real User-Agent (vendors.md), boot flow
PHONES: list[tuple[str, str, str, Callable[[Fetch, str], Creds]]] = [
    (
        "yealink-t46s",
        "00:15:65:12:34:01",
        "Yealink SIP-T46S 66.86.0.15 00:15:65:12:34:01",
        boot_yealink,
    ),
    (
        "polycom-vvx410",
        "00-04-F2-12-34-02",
        "FileTransport PolycomVVX-VVX_410-UA/5.9.5.0614 (SN:0004f2123402) Type/Application",
        boot_polycom,
    ),
    (
        "cisco-spa508g",
        "0002.FD12.3403",
        "Cisco/SPA508G-7.4.4 (0002FD123403)(CBT141400UK)",
        boot_cisco_spa,
    ),
    ("cisco-cp8841", "00562B123404", "Cisco-CP-8841-3PCC/11.0 (00562b123404)", boot_cisco_mpp),
    (
        "grandstream-gxp2135",
        "000b82123405",
        "Grandstream Model HW GXP2135 SW 1.0.7.97 DevId 000b82123405",
        boot_grandstream,
    ),
    (
        "snom-d785",
        "00:04:13:12:34:06",
        (
            "Mozilla/4.0 (compatible; snomD785-SIP 10.1.169.16 2010.12-00001-gd311851f1 "
            "(Feb 25 2019 - 14:19:43) 000413123406 SXM:0 UXM:0 UXMC:0)"
        ),
        boot_snom,
    ),
    ("fanvil-x4u", "0C:38:3E:12:34:07", "Fanvil X4U 2.10.2.6887 0c383e123407", boot_fanvil),
]


Phone = tuple[str, str, str, Callable[[Fetch, str], Creds]]


def build_fleet(api: httpx.Client, phones: list[Phone]) -> dict[str, Any]:
    """A new tenant with one phone per entry, each on its own line and SIP account."""
    tenant = api.post(
        "/api/v1/tenants",
        json={
            "name": unique_name("e2e"),
            "realm": "e2e.example.net",
            "sip_server": SIP_SERVER,
            "sip_port": 5070,
        },
    ).json()
    built = {}
    for index, (model, mac, ua, boot) in enumerate(phones, 1):
        number = f"20{index}"
        account = api.post(
            "/api/v1/accounts", json={"tenant": tenant["id"], "username": f"acc{number}"}
        ).json()
        extension = api.post(
            "/api/v1/extensions",
            json={
                "tenant": tenant["id"],
                "number": number,
                "display_name": f"Phone {index}",
                "accounts": [account["username"]],
            },
        )
        assert extension.status_code == 201, extension.text
        device = api.post(
            "/api/v1/devices",
            json={"tenant": tenant["id"], "mac": mac, "model": model, "name": f"Phone {index}"},
        )
        assert device.status_code == 201, device.text
        lines = api.put(f"/api/v1/devices/{mac}/lines", json=[{"extension": number}])
        assert lines.status_code == 200
        built[model] = {"mac": device.json()["mac"], "ua": ua, "boot": boot, "account": account}
    return {"tenant": tenant, "phones": built}


@pytest.fixture(scope="module")
def fleet(provedge: Provedge) -> dict[str, Any]:
    """Every phone of PHONES in one tenant; tests only read it (changes get their own)."""
    with provedge.api() as api:
        return build_fleet(api, PHONES)


def fetcher(provedge: Provedge, tenant: dict[str, Any], ua: str) -> Fetch:
    base = tenant["provisioning_url"]
    assert base.startswith(provedge.edge + "/p/")
    return lambda name: httpx.get(base + name, headers={"User-Agent": ua}, timeout=10)


@pytest.mark.parametrize("model", [p[0] for p in PHONES])
def test_phone_boots_and_finds_its_credentials(
    provedge: Provedge, fleet: dict[str, Any], model: str
) -> None:
    phone = fleet["phones"][model]
    creds = phone["boot"](fetcher(provedge, fleet["tenant"], phone["ua"]), phone["mac"])
    account = phone["account"]
    assert creds == {
        "server": SIP_SERVER,
        "port": "5070",
        "user": account["username"],
        "auth_user": account["username"],
        "password": account["password"],
    }


def test_repeated_fetch_with_etag_gets_304(provedge: Provedge, fleet: dict[str, Any]) -> None:
    fetch = fetcher(provedge, fleet["tenant"], PHONES[0][2])
    mac = fleet["phones"]["yealink-t46s"]["mac"]
    first = fetch(f"{mac}.cfg")
    assert first.headers["content-type"].startswith("text/plain")
    etag = first.headers["etag"]
    again = httpx.get(
        fleet["tenant"]["provisioning_url"] + f"{mac}.cfg", headers={"If-None-Match": etag}
    )
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag


@pytest.mark.parametrize(
    "notation",
    [
        lambda m: ":".join(m[i : i + 2] for i in range(0, 12, 2)).upper(),  # 00:15:FA:..
        lambda m: f"{m[:4]}.{m[4:8]}.{m[8:]}",  # Cisco dots, lower case
        lambda m: "-".join(m[i : i + 2] for i in range(0, 12, 2)).swapcase(),  # dashes
    ],
    ids=["colons-upper", "dots-lower", "dashes"],
)
def test_mac_case_does_not_matter(provedge: Provedge, notation: Callable[[str], str]) -> None:
    mac = unique_mac()  # 0015fa...: hex letters, so case has something to change
    with provedge.api() as api:
        tenant = api.post(
            "/api/v1/tenants",
            json={"name": unique_name("case"), "realm": "c.example", "sip_server": "c.example"},
        ).json()
        created = api.post(
            "/api/v1/devices",
            json={"tenant": tenant["id"], "mac": notation(mac), "model": "yealink-t46s"},
        )
        assert created.status_code == 201 and created.json()["mac"] == mac
    mixed = "".join(c.upper() if i % 2 else c for i, c in enumerate(mac))
    names = [f"{mac}.cfg", f"{mac.upper()}.cfg", f"{mac.upper()}.CFG", f"{mixed}.Cfg"]
    answers = [httpx.get(tenant["provisioning_url"] + name) for name in names]
    assert [a.status_code for a in answers] == [200] * len(names)
    assert len({a.content for a in answers}) == 1
    assert any(c in "abcdef" for c in mac) and mac.upper() != mac


def test_every_miss_is_the_same_404(provedge: Provedge, fleet: dict[str, Any]) -> None:
    base = fleet["tenant"]["provisioning_url"]
    misses = [
        base + "001565ffffff.cfg",  # unknown MAC, valid name
        base + "001565ffffff.boot",
        base + "nonsense.txt",
        provedge.edge + "/p/not-a-tenant-key/" + fleet["phones"]["yealink-t46s"]["mac"] + ".cfg",
        base + "..%2Fetc%2Fpasswd",
        base + "a" * 600 + ".cfg",  # longer than any LMDB key
        provedge.edge + "/p/" + "k" * 600 + "/001565000001.cfg",
    ]
    answers = {
        (r.status_code, r.content, r.headers["content-type"]) for r in map(httpx.get, misses)
    }
    assert len(answers) == 1
    assert next(iter(answers))[0] == 404


def test_head_and_put(provedge: Provedge, fleet: dict[str, Any]) -> None:
    url = (
        fleet["tenant"]["provisioning_url"] + fleet["phones"]["polycom-vvx410"]["mac"] + "-user.cfg"
    )
    head = httpx.head(url)
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) == len(httpx.get(url).content)
    assert httpx.put(url.replace("-user.cfg", "-app.log"), content=b"log").status_code == 405


def test_config_change_shows_on_next_fetch(provedge: Provedge) -> None:
    # Its own tenant: the change must not reach the phones other tests boot.
    with provedge.api() as api:
        own = build_fleet(api, [(m, unique_mac(), ua, boot) for m, _, ua, boot in PHONES[::4]])
    phone = own["phones"]["yealink-t46s"]
    fetch = fetcher(provedge, own["tenant"], phone["ua"])
    before = fetch(f"{phone['mac']}.cfg")
    with provedge.api() as api:
        changed = api.patch(
            f"/api/v1/tenants/{own['tenant']['id']}", json={"sip_server": "sip2.e2e.example.net"}
        )
        assert changed.status_code == 200
        wait_job(api, changed.json()["job"])  # the tenant's phones are recompiled by a job
        assert (
            api.patch(f"/api/v1/devices/{phone['mac']}", json={"name": "Renamed desk"}).status_code
            == 200
        )
    after = fetch(f"{phone['mac']}.cfg")
    assert after.headers["etag"] != before.headers["etag"]
    settings = yealink_settings(after.content)
    assert settings["account.1.sip_server.1.address"] == "sip2.e2e.example.net"
    assert re.search(
        rb"^## provedge device configuration: Renamed desk", after.content, re.MULTILINE
    )
    # every phone of the tenant changed, not only the one we looked at
    grandstream = own["phones"]["grandstream-gxp2135"]
    creds = boot_grandstream(
        fetcher(provedge, own["tenant"], grandstream["ua"]), grandstream["mac"]
    )
    assert creds["server"] == "sip2.e2e.example.net"


def test_tenant_ntp_change_reaches_a_cisco_phone_that_booted(provedge: Provedge) -> None:
    # Its own tenant: the change must not reach the phones other tests boot.
    with provedge.api() as api:
        own = build_fleet(
            api, [(m, unique_mac(), ua, boot) for m, _, ua, boot in PHONES if m == "cisco-spa508g"]
        )
    phone = own["phones"]["cisco-spa508g"]
    fetch = fetcher(provedge, own["tenant"], phone["ua"])
    first, _ = cisco_resync(fetch, phone["mac"], "spa508G.cfg")  # the first boot
    assert first["Primary_NTP_Server"] != "ntp2.e2e.example.net"
    with provedge.api() as api:
        changed = api.patch(
            f"/api/v1/tenants/{own['tenant']['id']}", json={"ntp_server": "ntp2.e2e.example.net"}
        )
        assert changed.status_code == 200
        wait_job(api, changed.json()["job"])
    # the next resync follows the rules the phone kept from its first boot
    rule = first["Profile_Rule"]
    again = flat_settings(_ok(fetch(httpx.URL(rule).path.rsplit("/", 1)[1])), "flat-profile")
    assert again["Primary_NTP_Server"] == "ntp2.e2e.example.net"
    assert again["Profile_Rule_B"] == first["Profile_Rule_B"]


def test_deleted_device_is_gone_from_the_edge(provedge: Provedge, fleet: dict[str, Any]) -> None:
    with provedge.api() as api:
        tenant = fleet["tenant"]["id"]
        mac = unique_mac()
        created = api.post(
            "/api/v1/devices", json={"tenant": tenant, "mac": mac, "model": "yealink-t46g"}
        )
        assert created.status_code == 201
        url = fleet["tenant"]["provisioning_url"] + f"{mac}.cfg"
        assert httpx.get(url).status_code == 200
        colons = ":".join(mac[i : i + 2] for i in range(0, 12, 2))
        assert api.delete(f"/api/v1/devices/{colons}").status_code == 204
        assert httpx.get(url).status_code == 404
        assert api.get(f"/api/v1/devices/{mac}").status_code == 404


def test_demo_phone_config_is_served(provedge: Provedge) -> None:
    with provedge.api() as api:
        demo = api.get("/api/v1/devices", params={"tenant": "demo"}).json()["items"]
    assert {d["model"].split("-")[0] for d in demo} == {
        "yealink",
        "polycom",
        "cisco",
        "grandstream",
        "snom",
        "fanvil",
    }
    for device in demo:
        for name in device["files"]:
            assert httpx.get(device["provisioning_url"] + name).status_code == 200


def test_model_change_swaps_the_files_served(provedge: Provedge, fleet: dict[str, Any]) -> None:
    base, mac = fleet["tenant"]["provisioning_url"], unique_mac()
    with provedge.api() as api:
        created = api.post(
            "/api/v1/devices",
            json={"tenant": fleet["tenant"]["id"], "mac": mac, "model": "yealink-t46s"},
        )
        assert created.status_code == 201
        assert httpx.get(base + f"{mac}.boot").status_code == 200
        changed = api.patch(f"/api/v1/devices/{mac}", json={"model": "polycom-vvx400"})
        assert changed.json()["files"] == [f"{mac}.cfg", f"{mac}-user.cfg"]
    assert httpx.get(base + f"{mac}.boot").status_code == 404
    parse_xml(httpx.get(base + f"{mac}.cfg").content, "APPLICATION")
    parse_xml(httpx.get(base + f"{mac}-user.cfg").content, "polycomConfig")
