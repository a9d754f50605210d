"""Config delivery that does not leak, against a real `provedge run --workers 2`: per tenant
``delivery_policy`` (docs/delivery.md).

Under ``device_credentials`` each vendor family's phone (a client following that vendor's
chain) gets a first stage without a secret, reaches its full files only with its own
Digest credentials, cannot fetch the first stage twice, and gets it again after a
counter reset. ``ua_mac_match`` needs the User-Agent's MAC. Wrong credentials count
toward a ban, right ones never do. Every miss answers the same 404, in the same time.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from edge.http.app import EdgeApp
from edge.http.delivery import Delivery
from edge.http.reads import Reads
from edge.sip import digest
from provedge.formats import store
from tests import vendorcheck
from tests.conftest import (
    Provedge,
    start_provedge,
    stop_provedge,
    unique_mac,
    unique_name,
    wait_job,
)
from tests.test_edgestate_writer import poll

MAX_FAILURES = 6
BAN_WAIT_S = 10.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Provedge]:
    started = start_provedge(tmp_path_factory.mktemp("data"), "--workers", "2")
    with started.api() as api:
        # Trusted: 127.0.0.1, where the chains' deliberate misses come from, and the
        # timing test's 127.0.96.0/24 (1,000 unknown MACs); the ban test has its own.
        policy = {"max_failures": MAX_FAILURES, "window_s": 60, "ban_s": 600,
                  "trusted": ["127.0.0.1/32", "127.0.96.0/24"]}  # fmt: skip
        assert api.put("/api/v1/firewall", json=policy).status_code == 200
    yield started
    stop_provedge(started)


@dataclass
class Phone:
    tenant: dict[str, Any]
    mac: str
    sip_password: str
    admin_password: str
    model: str

    @property
    def base(self) -> str:
        return str(self.tenant["provisioning_url"])


def phone(server: Provedge, policy: str, model: str, oui: str) -> Phone:
    """A tenant of its own with ``policy``, one device of ``model`` on one line."""
    name = unique_name("dl")
    with server.api() as api:
        tenant = api.post(
            "/api/v1/tenants",
            json={"name": name, "realm": f"{name}.example.net", "sip_server": "sip.example.net",
                  "delivery_policy": policy},
        )  # fmt: skip
        assert tenant.status_code == 201, tenant.text
        assert tenant.json()["delivery_policy"] == policy
        sip_password = "sip-" + secrets.token_hex(8)
        account = {"tenant": tenant.json()["id"], "username": f"{name}1", "password": sip_password}
        assert api.post("/api/v1/accounts", json=account).status_code == 201
        extension = {"tenant": tenant.json()["id"], "number": "100", "accounts": [f"{name}1"]}
        assert api.post("/api/v1/extensions", json=extension).status_code == 201
        mac = unique_mac(oui)
        made = api.post("/api/v1/devices", json={"tenant": name, "mac": mac, "model": model})
        assert made.status_code == 201, made.text
        lines = api.put(f"/api/v1/devices/{mac}/lines", json=[{"extension": "100"}])
        assert lines.status_code == 200, lines.text
    return Phone(tenant.json(), mac, sip_password, made.json()["admin_password"], model)


def get(url: str, **kwargs: Any) -> httpx.Response:
    return httpx.get(url, headers={"Connection": "close", **kwargs.pop("headers", {})}, **kwargs)


def assert_no_secret(body: bytes, device: Phone) -> None:
    assert device.sip_password.encode() not in body
    assert device.admin_password.encode() not in body


@dataclass
class Stage:
    """What a vendor's first stage told its phone: where its files are, with what login."""

    url: str  # the full second-stage URL of the phone's first own file
    user: str
    password: str


# ---- each vendor's chain, as its phone walks it -------------------------------------------


def yealink(device: Phone) -> Stage:
    assert get(f"{device.base}{device.mac}.boot").status_code == 404  # falls back, vendors.md
    common = get(f"{device.base}y000000000066.cfg")
    assert common.status_code == 200
    server_url = vendorcheck.yealink_settings(common.content)["static.auto_provision.server.url"]
    first = get(f"{device.base}{device.mac}.cfg")
    assert first.status_code == 200
    assert_no_secret(first.content, device)
    settings = vendorcheck.yealink_settings(first.content)
    url = settings["static.auto_provision.server.url"]
    assert url == server_url and url.endswith("/auth/")
    return Stage(
        f"{url}{device.mac}.boot",
        settings["static.auto_provision.server.username"],
        settings["static.auto_provision.server.password"],
    )


def yealink_full(stage: Stage, auth: httpx.Auth) -> bytes:
    boot = get(stage.url, auth=auth)
    assert boot.status_code == 200, boot.text
    base = stage.url.rsplit("/", 1)[0] + "/"
    bodies = []
    for name in vendorcheck.yealink_includes(boot.content):
        fetched = get(base + name, auth=auth)
        assert fetched.status_code == 200
        bodies.append(fetched.content)
    return b"".join(bodies)


def polycom(device: Phone) -> Stage:
    assert get(f"{device.base}{device.mac}.cfg").status_code == 404  # then the default master
    master = get(f"{device.base}000000000000.cfg")
    listed = vendorcheck.parse_xml(master.content, "APPLICATION").get("CONFIG_FILES") or ""
    own = [n.strip().replace("[PHONE_MAC_ADDRESS]", device.mac) for n in listed.split(",")]
    first = get(f"{device.base}{own[0]}")
    assert first.status_code == 200
    assert_no_secret(first.content, device)
    settings = vendorcheck.polycom_settings(first.content)
    assert settings["device.set"] == "1" and settings["device.prov.serverType"] == "2"
    return Stage(
        f"{settings['device.prov.serverName']}{device.mac}.cfg",
        settings["device.prov.user"],
        settings["device.prov.password"],
    )


def polycom_full(stage: Stage, auth: httpx.Auth) -> bytes:
    master = get(stage.url, auth=auth)
    assert master.status_code == 200, master.text
    mac = stage.user
    listed = vendorcheck.parse_xml(master.content, "APPLICATION").get("CONFIG_FILES") or ""
    base = stage.url.rsplit("/", 1)[0] + "/"
    names = [n.strip().replace("[PHONE_MAC_ADDRESS]", mac) for n in listed.split(",")]
    return b"".join(get(base + name, auth=auth).content for name in names)


CISCO_COMMON = {"cisco-spa508g": "spa508G.cfg", "cisco-cp8841": "8841-3PCC.xml"}


def cisco(device: Phone) -> Stage:
    common = get(f"{device.base}{CISCO_COMMON[device.model]}")
    assert common.status_code == 200
    common_rule = vendorcheck.flat_settings(common.content, "flat-profile")["Profile_Rule_B"]
    first = get(f"{device.base}{device.mac}.xml")
    assert first.status_code == 200
    assert_no_secret(first.content, device)
    settings = vendorcheck.flat_settings(first.content, "flat-profile")
    assert settings["Profile_Rule_B"] == common_rule  # a resync keeps the credentials
    # The phone expands its macros: $MA its MAC, $B its GPP_B.
    rule = settings["Profile_Rule_B"].replace("$MA", device.mac).replace("$B", settings["GPP_B"])
    found = re.fullmatch(r"\[--uid (\S+) --pwd (\S+)\](\S+)", rule)
    assert found is not None, rule
    return Stage(found.group(3), found.group(1), found.group(2))


def single_full(stage: Stage, auth: httpx.Auth) -> bytes:
    full = get(stage.url, auth=auth)
    assert full.status_code == 200, full.text
    return full.content


def grandstream(device: Phone) -> Stage:
    first = get(f"{device.base}cfg{device.mac}.xml")
    assert first.status_code == 200
    assert_no_secret(first.content, device)
    settings = vendorcheck.flat_settings(first.content, "gs_provision")
    scheme = {"1": "http", "2": "https"}[settings["P212"]]
    return Stage(
        f"{scheme}://{settings['P237']}cfg{device.mac}.xml", settings["P1359"], settings["P1360"]
    )


def snom(device: Phone) -> Stage:
    assert get(f"{device.base}snomD785.htm").status_code == 200
    name = f"snomD785-{device.mac.upper()}.htm"
    first = get(f"{device.base}{name}")
    assert first.status_code == 200
    assert_no_secret(first.content, device)
    with_login = urlsplit(vendorcheck.snom_settings(first.content)["setting_server"])
    host = with_login.hostname or ""
    url = f"{with_login.scheme}://{host}:{with_login.port}{with_login.path}{name}"
    return Stage(url, with_login.username or "", with_login.password or "")


def snom_full(stage: Stage, auth: httpx.Auth) -> bytes:
    index = get(stage.url, auth=auth)
    assert index.status_code == 200, index.text
    listed = vendorcheck.parse_xml(index.content, "setting-files")
    bodies = [get(f.get("url") or "", auth=auth).content for f in listed.iter("file")]
    # The device file, applied after the common one, keeps the login in setting_server.
    server = urlsplit(vendorcheck.snom_settings(bodies[-1])["setting_server"])
    assert (server.username, server.password) == (stage.user, stage.password)
    return b"".join(bodies)


def fanvil(device: Phone) -> Stage:
    first = get(f"{device.base}{device.mac}.cfg")
    assert first.status_code == 200
    assert_no_secret(first.content, device)
    settings = vendorcheck.fanvil_settings(first.content)
    module = "AUTOUPDATE_CONFIG_MODULE"
    name = settings[f"{module}/Config_File_Name"].replace("$mac", device.mac)
    return Stage(
        settings[f"{module}/Download_Server_IP"] + name,
        settings[f"{module}/Download_Username"],
        settings[f"{module}/Download_Password"],
    )


Chain = tuple[str, str, str, Callable[[Phone], Stage], Callable[[Stage, httpx.Auth], bytes]]
CHAINS: list[Chain] = [
    ("yealink-t46s", "001565", "{mac}.cfg", yealink, yealink_full),
    ("polycom-vvx410", "0004f2", "{mac}-user.cfg", polycom, polycom_full),
    ("cisco-spa508g", "0002fd", "{mac}.xml", cisco, single_full),
    ("cisco-cp8841", "00562b", "{mac}.xml", cisco, single_full),
    ("grandstream-gxp2135", "000b82", "cfg{mac}.xml", grandstream, single_full),
    ("snom-d785", "000413", "snomD785-{MAC}.htm", snom, snom_full),
    ("fanvil-x4u", "0c383e", "{mac}.cfg", fanvil, single_full),
]


@pytest.mark.parametrize(("model", "oui", "first_name", "walk", "full"), CHAINS,
                         ids=[c[0] for c in CHAINS])  # fmt: skip
def test_each_vendor_walks_its_first_stage_to_its_full_files(
    server: Provedge, model: str, oui: str, first_name: str,
    walk: Callable[[Phone], Stage], full: Callable[[Stage, httpx.Auth], bytes],
) -> None:  # fmt: skip
    device = phone(server, "device_credentials", model, oui)
    stage = walk(device)
    assert stage.user == device.mac and len(stage.password) >= 24
    assert urlsplit(stage.url).path.startswith(urlsplit(device.base).path + "auth/")

    # Its full files: only with its credentials.
    assert get(stage.url).status_code == 401
    assert (
        get(stage.url, auth=httpx.DigestAuth(stage.user, stage.password + "x")).status_code == 401
    )
    body = full(stage, httpx.DigestAuth(stage.user, stage.password))
    assert device.sip_password.encode() in body

    # The first stage again, unauthenticated: the ordinary 404, any MAC's.
    first_url = device.base + first_name.format(mac=device.mac, MAC=device.mac.upper())
    replayed = get(first_url)
    unknown = get(device.base + first_name.format(mac=oui + "fffffe", MAC=oui.upper() + "FFFFFE"))
    assert replayed.status_code == unknown.status_code == 404
    assert replayed.content == unknown.content
    assert device.sip_password not in replayed.text

    # A counter reset opens a new provisioning cycle: the first stage once more.
    with server.api() as api:
        reset = api.post("/api/v1/devices/reset-provision-counter", json={"macs": [device.mac]})
        assert reset.status_code == 200
    again = poll(lambda: get(first_url), lambda r: r.status_code == 200, "first stage again")
    assert_no_secret(again.content, device)
    assert get(first_url).status_code == 404


def test_the_first_stage_is_served_once_across_workers(server: Provedge) -> None:
    device = phone(server, "device_credentials", "yealink-t46s", "001565")
    url = f"{device.base}{device.mac}.cfg"
    statuses: list[int] = []
    lock = threading.Lock()

    def fetch() -> None:
        status = get(url).status_code
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=fetch) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(statuses) == [200] + [404] * 15


def test_digest_sha256_and_a_nonce_from_another_worker(server: Provedge) -> None:
    device = phone(server, "device_credentials", "fanvil-x4u", "0c383e")
    stage = fanvil(device)
    path = urlsplit(stage.url).path
    for _ in range(6):  # new connections: SO_REUSEPORT spreads them over both workers
        challenged = get(stage.url)
        assert challenged.status_code == 401
        offered = challenged.headers.get_list("www-authenticate")
        assert [h.split("algorithm=")[1].split(",")[0] for h in offered] == ["MD5", "SHA-256"]
        header = sha256_authorization(offered[1], stage, path)
        served = get(stage.url, headers={"Authorization": header})  # another connection
        assert served.status_code == 200 and device.sip_password in served.text


def sha256_authorization(challenge: str, stage: Stage, path: str, nc: str = "00000001") -> str:
    """The Authorization a phone answers a SHA-256 ``challenge`` with (qop=auth)."""
    nonce = re.search(r'nonce="([^"]+)"', challenge)
    assert nonce is not None
    ha1 = hashlib.sha256(f"{stage.user}:provedge:{stage.password}".encode()).hexdigest()
    response = digest.response_of("sha256", ha1, nonce.group(1), "GET", path, nc, "c1")
    return (
        f'Digest username="{stage.user}", realm="provedge", nonce="{nonce.group(1)}", '
        f'uri="{path}", algorithm=SHA-256, qop=auth, nc={nc}, cnonce="c1", '
        f'response="{response}"'
    )


def test_a_replayed_nonce_count_is_refused_and_counts_toward_a_ban(server: Provedge) -> None:
    """HTTP has no retransmission of a request: the same (nonce, nc) twice is a replay (a
    fresh challenge, and a failure for the ban), while the next nc is the phone's own."""
    device = phone(server, "device_credentials", "fanvil-x4u", "0c383e")
    stage = fanvil(device)
    path = urlsplit(stage.url).path
    # One keep-alive connection: one worker, whose nonce counts these are.
    with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.95.4")) as thief:
        challenge = thief.get(stage.url).headers.get_list("www-authenticate")[1]
        seen = {"Authorization": sha256_authorization(challenge, stage, path)}
        served = thief.get(stage.url, headers=seen)
        assert served.status_code == 200 and device.sip_password in served.text
        replayed = thief.get(stage.url, headers=seen)
        assert replayed.status_code == 401 and device.sip_password not in replayed.text
        assert "stale" not in replayed.headers["www-authenticate"]
        following = {"Authorization": sha256_authorization(challenge, stage, path, "00000002")}
        assert thief.get(stage.url, headers=following).status_code == 200
        deadline = time.monotonic() + BAN_WAIT_S
        while (answer := thief.get(stage.url, headers=seen)).status_code != 403:
            assert answer.status_code == 401
            assert time.monotonic() < deadline, "never banned"
    poll(lambda: _ban_reason(server, "127.0.95.4"), lambda r: r is not None, "listed")
    assert _ban_reason(server, "127.0.95.4") == "fetch credentials"


def test_basic_is_refused_without_tls(server: Provedge) -> None:
    device = phone(server, "device_credentials", "fanvil-x4u", "0c383e")
    stage = fanvil(device)
    refused = get(stage.url, auth=httpx.BasicAuth(stage.user, stage.password))
    assert refused.status_code == 401 and "Digest" in refused.headers["www-authenticate"]
    assert device.sip_password not in refused.text


def test_ua_mac_match(server: Provedge) -> None:
    device = phone(server, "keyed_url+ua_mac_match", "yealink-t46s", "001565")
    url = f"{device.base}{device.mac}.cfg"
    colon = ":".join(device.mac[i : i + 2] for i in range(0, 12, 2))
    own = get(url, headers={"User-Agent": f"Yealink SIP-T46S 66.86.0.15 {colon}"})
    assert own.status_code == 200 and device.sip_password in own.text
    other = get(url, headers={"User-Agent": "Yealink SIP-T46S 66.86.0.15 00:15:65:00:00:01"})
    without = get(url, headers={"User-Agent": "Yealink SIP-T46S 66.86.0.15"})
    unknown = get(f"{device.base}001565fffffe.cfg")
    assert other.status_code == without.status_code == 404
    assert other.content == without.content == unknown.content
    # Polycom's User-Agent carries no MAC: not checked for it (vendors.md).
    polycom_device = phone(server, "keyed_url+ua_mac_match", "polycom-vvx410", "0004f2")
    served = get(f"{polycom_device.base}{polycom_device.mac}-user.cfg",
                 headers={"User-Agent": "FileTransport PolycomVVX-VVX_410-UA/5.9.5.0614"})  # fmt: skip
    assert served.status_code == 200


def test_wrong_credentials_count_toward_a_ban_right_ones_never(server: Provedge) -> None:
    device = phone(server, "device_credentials", "grandstream-gxp2135", "000b82")
    stage = grandstream(device)
    right = httpx.DigestAuth(stage.user, stage.password)
    with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.95.2")) as office:
        for _ in range(3 * MAX_FAILURES):  # many phones' challenges and fetches: no ban
            assert office.get(stage.url, auth=right).status_code == 200
    with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.95.3")) as guesser:
        wrong = httpx.DigestAuth(stage.user, "guess")
        deadline = time.monotonic() + BAN_WAIT_S
        while (answer := guesser.get(stage.url, auth=wrong)).status_code != 403:
            assert answer.status_code == 401
            assert time.monotonic() < deadline, "never banned"
        assert guesser.get(stage.url, auth=right).status_code == 403
    with server.api() as api:
        listed = {b["address"]: b for b in api.get("/api/v1/bans").json()}
        assert "127.0.95.2" not in listed
    poll(lambda: _ban_reason(server, "127.0.95.3"), lambda r: r is not None, "listed")
    assert _ban_reason(server, "127.0.95.3") == "fetch credentials"


def _ban_reason(server: Provedge, address: str) -> str | None:
    with server.api() as api:
        found = {b["address"]: b for b in api.get("/api/v1/bans").json()}.get(address)
    return None if found is None else str(found["reason"])


def _iqr(samples: list[float]) -> float:
    quartiles = statistics.quantiles(samples, n=4)
    return quartiles[2] - quartiles[0]


def test_every_miss_answers_the_same_404_in_the_same_time(server: Provedge) -> None:
    device = phone(server, "device_credentials", "yealink-t46s", "001565")
    known = f"{device.base}{device.mac}.cfg"
    assert get(known).status_code == 200  # the first stage is used up
    unknown_url = f"{device.base}001565{secrets.token_hex(3)}.cfg"
    with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.96.2")) as http:
        a, b = http.get(known), http.get(unknown_url)
        assert a.status_code == b.status_code == 404
        assert a.content == b.content
        assert [(k, v) for k, v in a.headers.items() if k != "date"] == [
            (k, v) for k, v in b.headers.items() if k != "date"
        ]
        timings: dict[str, list[float]] = {"known": [], "unknown": []}
        for _ in range(1000):  # interleaved: drift on a shared machine hits both alike
            for name, url in (("known", known), ("unknown", unknown_url)):
                started = time.perf_counter()
                assert http.get(url).status_code == 404
                timings[name].append(time.perf_counter() - started)
    # The difference of the medians within the noise (the larger interquartile range).
    difference = abs(statistics.median(timings["known"]) - statistics.median(timings["unknown"]))
    noise = max(_iqr(timings["known"]), _iqr(timings["unknown"]))
    print(
        f"timing: known {statistics.median(timings['known']) * 1e6:.1f} us, unknown {statistics.median(timings['unknown']) * 1e6:.1f} us, noise (IQR) {noise * 1e6:.1f} us"
    )
    assert difference <= noise, (difference, noise)


def test_a_tenant_changes_its_policy_and_back(server: Provedge) -> None:
    device = phone(server, "keyed_url", "yealink-t46s", "001565")
    url = f"{device.base}{device.mac}.cfg"
    assert device.sip_password in get(url).text  # keyed_url: the full file
    with server.api() as api:
        changed = api.patch(
            f"/api/v1/tenants/{device.tenant['id']}", json={"delivery_policy": "device_credentials"}
        )
        assert (
            changed.status_code == 200 and changed.json()["delivery_policy"] == "device_credentials"
        )
        wait_job(api, changed.json()["job"])
        refused = api.patch(f"/api/v1/tenants/{device.tenant['id']}", json={"delivery_policy": "x"})
        assert refused.status_code == 422 and "delivery_policy" in refused.json()["errors"]
    head = httpx.head(url)
    assert head.status_code == 404  # HEAD never claims nor shows the first stage
    first = get(url)
    assert first.status_code == 200
    assert_no_secret(first.content, device)
    with server.api() as api:
        back = api.patch(
            f"/api/v1/tenants/{device.tenant['id']}", json={"delivery_policy": "keyed_url"}
        )
        wait_job(api, back.json()["job"])
    assert device.sip_password in get(url).text


def test_basic_only_when_the_request_came_over_tls(server: Provedge) -> None:
    """``EdgeApp.answer()`` itself, in this process, over the LMDB the server published:
    the ``secure`` flag a TLS listener will pass is what lets Basic through."""
    device = phone(server, "device_credentials", "fanvil-x4u", "0c383e")
    stage = fanvil(device)
    path = urlsplit(stage.url).path
    env = store.open_env(server.data, readonly=True)
    try:
        app = EdgeApp(env, delivery=Delivery(server.data, Reads(env)))
        right = b"Basic " + base64.b64encode(f"{stage.user}:{stage.password}".encode())
        wrong = b"Basic " + base64.b64encode(f"{stage.user}:nope".encode())
        status, _, body = app.answer("GET", path, None, None, None, right, secure=True)
        assert status == 200 and device.sip_password.encode() in body
        assert app.answer("GET", path, None, None, None, wrong, secure=True)[0] == 401
        status, headers, body = app.answer("GET", path, None, None, None, right, secure=False)
        assert status == 401 and device.sip_password.encode() not in body
        assert any(k == b"www-authenticate" and v.startswith(b"Digest ") for k, v in headers)
    finally:
        env.close()


def test_a_device_added_again_gets_a_new_cycle(server: Provedge) -> None:
    device = phone(server, "device_credentials", "yealink-t46s", "001565")
    url = f"{device.base}{device.mac}.cfg"
    assert get(url).status_code == 200
    assert get(url).status_code == 404
    with server.api() as api:
        assert api.delete(f"/api/v1/devices/{device.mac}").status_code == 204
        made = {"tenant": device.tenant["id"], "mac": device.mac, "model": "yealink-t46s"}
        assert api.post("/api/v1/devices", json=made).status_code == 201
    assert get(url).status_code == 200  # not the claim of the removed device's cycle
    with server.api() as api:
        reset = api.post("/api/v1/devices/reset-provision-counter", json={"macs": [device.mac]})
        assert reset.status_code == 200
    poll(lambda: get(url).status_code, lambda status: status == 200, "served after the reset")
    claims = server.data / "edge-state" / "first-stage" / device.mac
    assert len(list(claims.iterdir())) == 1  # the earlier cycles' claims are gone


def test_the_second_stage_tells_nothing_of_a_mac(server: Provedge) -> None:
    device = phone(server, "device_credentials", "fanvil-x4u", "0c383e")
    stage = fanvil(device)
    unknown = stage.url.replace(device.mac, "0c383efffffe")
    wrong_key = stage.url.replace(urlsplit(device.base).path, "/p/not-a-key/")
    answers = [get(url) for url in (stage.url, unknown, wrong_key)]
    assert [a.status_code for a in answers] == [401, 401, 401]
    assert len({a.content for a in answers}) == 1
    shapes = {tuple(sorted(k for k in a.headers if k != "date")) for a in answers}
    assert len(shapes) == 1
    for url in (unknown, wrong_key):  # its own credentials fit no other file
        assert get(url, auth=httpx.DigestAuth(stage.user, stage.password)).status_code == 401


def test_second_stage_probes_count_as_scans_a_known_phones_challenge_never(
    server: Provedge,
) -> None:
    """A challenge for a MAC or tenant key that does not exist counts as the same name's
    miss outside auth/ would; a known phone's challenges (its first request) never do."""
    device = phone(server, "device_credentials", "fanvil-x4u", "0c383e")
    stage = fanvil(device)
    snom_stage = snom(phone(server, "device_credentials", "snom-d785", "000413"))  # MAC upper
    with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.95.5")) as office:
        for _ in range(3 * MAX_FAILURES):
            assert office.get(stage.url).status_code == 401
            assert office.get(snom_stage.url).status_code == 401
        assert (
            office.get(stage.url, auth=httpx.DigestAuth(stage.user, stage.password)).status_code
            == 200
        )
    unknown = stage.url.replace(device.mac, "0c383e" + secrets.token_hex(3))
    wrong_key = stage.url.replace(urlsplit(device.base).path, "/p/not-a-key/")
    stale = 'Digest username="x", realm="provedge", nonce="0", uri="/", response="0"'
    probes = [("127.0.95.6", unknown, {}), ("127.0.95.7", wrong_key, {}),
              ("127.0.95.8", unknown, {"Authorization": stale})]  # fmt: skip
    for address, url, headers in probes:
        with httpx.Client(transport=httpx.HTTPTransport(local_address=address)) as prober:
            deadline = time.monotonic() + BAN_WAIT_S
            while (answer := prober.get(url, headers=headers)).status_code != 403:
                assert answer.status_code == 401
                assert time.monotonic() < deadline, f"{address} never banned"
    for address, _, _ in probes:
        poll(lambda a=address: _ban_reason(server, a), lambda r: r is not None, "listed")
        assert _ban_reason(server, address) == "scan"
    assert _ban_reason(server, "127.0.95.5") is None


def test_device_views_never_show_the_fetch_password(server: Provedge) -> None:
    """The preview's body is the phone's exact bytes (Snom's carry the login); its
    variables and the device itself show no fetch password."""
    device = phone(server, "device_credentials", "snom-d785", "000413")
    stage = snom(device)
    name = f"{device.mac.upper()}.xml"  # its device file, which sets setting_server again
    served = get(stage.url.rsplit("/", 1)[0] + f"/{name}",
                 auth=httpx.DigestAuth(stage.user, stage.password))  # fmt: skip
    assert served.status_code == 200
    with server.api() as api:
        preview = api.get(f"/api/v1/devices/{device.mac}/preview/{name}")
        assert preview.status_code == 200, preview.text
        shown = api.get(f"/api/v1/devices/{device.mac}")
        assert shown.status_code == 200
    assert preview.json()["body"].encode() == served.content  # the login is in it
    assert stage.password in preview.json()["body"]
    variables = preview.json()["variables"]
    assert variables["device.fetch_url"].startswith(f"http://{device.mac}:********@")
    assert stage.password not in str(variables)
    assert stage.password not in shown.text
