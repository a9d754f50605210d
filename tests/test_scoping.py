"""Every route of the table checks role and tenant: walked from control/api/app.py ROUTES.

Against a real `provedge run`: tenant A has an account, an extension, a device with a
line, a job and an end user; tenant B has the same. For every route, B's tenant admin and
B's end user ask for A's objects and for objects that do not exist: both answers are a
403 or a 404, identical in status, headers and body, so they learn nothing. A's end user
walks every route that is not its own: 403 or 404, and the audit trail (which records
every change, tests/test_audit.py) shows that nothing changed. A new route without an
entry in ``REQUESTS`` fails here: each route says how to aim it at an object.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from PIL import Image

from control.api.app import ROUTES
from tests.conftest import Provedge, unique_mac, unique_name, wait_job

MISSING_MAC = "0015fe000000"
MISSING_ID = 987654321
MISSING_TENANT = 987654


@dataclass
class World:
    """One tenant's objects, or (``missing``) ids that name nothing."""

    tenant: int | str
    mac: str
    account: int
    username: str
    job: int
    token_id: str
    template: int = MISSING_ID
    background: int = MISSING_ID


@dataclass
class Request:
    path: str
    params: dict[str, Any] | None = None
    body: Any = None
    content: bytes | None = None  # a raw body (an image upload), sent as image/png


def _png(side: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (side, side), "green").save(out, format="PNG")
    return out.getvalue()


# For each route: the request aimed at a world's objects. A route with no object of its
# own (a list, the catalogue) is aimed at the world's tenant where it takes one.
REQUESTS: dict[tuple[str, str], Callable[[World], Request]] = {
    ("GET", "/api/v1/models"): lambda w: Request("/api/v1/models"),
    ("GET", "/api/v1/tenants"): lambda w: Request("/api/v1/tenants"),
    ("POST", "/api/v1/tenants"): lambda w: Request(
        "/api/v1/tenants",
        body={"name": unique_name("x"), "realm": "x.example", "sip_server": "x.example"},
    ),
    ("GET", "/api/v1/tenants/{tenant}"): lambda w: Request(f"/api/v1/tenants/{w.tenant}"),
    ("PATCH", "/api/v1/tenants/{tenant}"): lambda w: Request(
        f"/api/v1/tenants/{w.tenant}", body={"ntp_server": "ntp.example"}
    ),
    ("GET", "/api/v1/devices"): lambda w: Request("/api/v1/devices", {"tenant": w.tenant}),
    ("POST", "/api/v1/devices"): lambda w: Request(
        "/api/v1/devices", body={"tenant": w.tenant, "mac": "0015fe111111", "model": "yealink-t46s"}
    ),
    ("POST", "/api/v1/devices/import"): lambda w: Request(
        "/api/v1/devices/import",
        {"tenant": w.tenant},
        [{"mac": "0015fe222222", "model": "yealink-t46s"}],
    ),
    ("POST", "/api/v1/devices/remove"): lambda w: Request(
        "/api/v1/devices/remove", body={"macs": [w.mac]}
    ),
    ("GET", "/api/v1/devices/export"): lambda w: Request(
        "/api/v1/devices/export", {"tenant": w.tenant}
    ),
    ("GET", "/api/v1/devices/{mac}"): lambda w: Request(f"/api/v1/devices/{w.mac}"),
    ("PATCH", "/api/v1/devices/{mac}"): lambda w: Request(
        f"/api/v1/devices/{w.mac}", body={"name": "taken"}
    ),
    ("DELETE", "/api/v1/devices/{mac}"): lambda w: Request(f"/api/v1/devices/{w.mac}"),
    ("GET", "/api/v1/devices/{mac}/lines"): lambda w: Request(f"/api/v1/devices/{w.mac}/lines"),
    ("POST", "/api/v1/devices/reset-provision-counter"): lambda w: Request(
        "/api/v1/devices/reset-provision-counter", body={"macs": [w.mac]}
    ),
    ("GET", "/api/v1/devices/{mac}/keys"): lambda w: Request(f"/api/v1/devices/{w.mac}/keys"),
    ("PUT", "/api/v1/devices/{mac}/keys"): lambda w: Request(
        f"/api/v1/devices/{w.mac}/keys", body=[]
    ),
    ("PUT", "/api/v1/devices/{mac}/lines"): lambda w: Request(
        f"/api/v1/devices/{w.mac}/lines", body=[]
    ),
    ("GET", "/api/v1/accounts"): lambda w: Request("/api/v1/accounts", {"tenant": w.tenant}),
    ("POST", "/api/v1/accounts"): lambda w: Request("/api/v1/accounts", body={"tenant": w.tenant}),
    ("POST", "/api/v1/accounts/batch"): lambda w: Request(
        "/api/v1/accounts/batch", body={"tenant": w.tenant, "count": 2, "username_pattern": "b{n}"}
    ),
    ("GET", "/api/v1/accounts/export"): lambda w: Request(
        "/api/v1/accounts/export", {"tenant": w.tenant}
    ),
    ("GET", "/api/v1/accounts/{id}"): lambda w: Request(f"/api/v1/accounts/{w.account}"),
    ("PATCH", "/api/v1/accounts/{id}"): lambda w: Request(
        f"/api/v1/accounts/{w.account}", body={"owner": "taken"}
    ),
    ("DELETE", "/api/v1/accounts/{id}"): lambda w: Request(
        f"/api/v1/accounts/{w.account}", {"force": "true"}
    ),
    ("POST", "/api/v1/accounts/{id}/reveal-password"): lambda w: Request(
        f"/api/v1/accounts/{w.account}/reveal-password"
    ),
    ("POST", "/api/v1/accounts/{id}/activation"): lambda w: Request(
        f"/api/v1/accounts/{w.account}/activation"
    ),
    ("GET", "/api/v1/extensions"): lambda w: Request("/api/v1/extensions", {"tenant": w.tenant}),
    ("POST", "/api/v1/extensions"): lambda w: Request(
        "/api/v1/extensions", body={"tenant": w.tenant, "number": "7777", "accounts": [w.username]}
    ),
    ("GET", "/api/v1/jobs"): lambda w: Request("/api/v1/jobs"),
    ("GET", "/api/v1/jobs/{id}"): lambda w: Request(f"/api/v1/jobs/{w.job}"),
    ("POST", "/api/v1/jobs/{id}/cancel"): lambda w: Request(f"/api/v1/jobs/{w.job}/cancel"),
    ("GET", "/api/v1/jobs/{id}/results"): lambda w: Request(f"/api/v1/jobs/{w.job}/results"),
    ("GET", "/api/v1/templates/samples/{model}/{file}"): lambda w: Request(
        "/api/v1/templates/samples/yealink-t46s/mac.cfg"
    ),
    ("GET", "/api/v1/templates"): lambda w: Request("/api/v1/templates", {"tenant": w.tenant}),
    ("POST", "/api/v1/templates"): lambda w: Request(
        "/api/v1/templates",
        body={
            "tenant": w.tenant,
            "name": "t",
            "vendor": "yealink",
            "file": "mac.cfg",
            "source": "#!version:1.0.0.1\n",
        },
    ),
    ("GET", "/api/v1/templates/{id}"): lambda w: Request(f"/api/v1/templates/{w.template}"),
    ("PUT", "/api/v1/templates/{id}"): lambda w: Request(
        f"/api/v1/templates/{w.template}", body={"name": "renamed"}
    ),
    ("DELETE", "/api/v1/templates/{id}"): lambda w: Request(f"/api/v1/templates/{w.template}"),
    ("GET", "/api/v1/devices/{mac}/preview/{file}"): lambda w: Request(
        f"/api/v1/devices/{w.mac}/preview/{w.mac}.cfg"
    ),
    ("POST", "/api/v1/devices/{mac}/reboot"): lambda w: Request(
        f"/api/v1/devices/{w.mac}/reboot", body={"mode": "resync"}
    ),
    ("POST", "/api/v1/reboots"): lambda w: Request(
        "/api/v1/reboots", body={"tenant": w.tenant, "mode": "resync"}
    ),
    ("POST", "/api/v1/backgrounds"): lambda w: Request(
        "/api/v1/backgrounds", {"tenant": w.tenant}, content=_png(64)
    ),
    ("GET", "/api/v1/backgrounds"): lambda w: Request("/api/v1/backgrounds", {"tenant": w.tenant}),
    ("GET", "/api/v1/backgrounds/{id}"): lambda w: Request(f"/api/v1/backgrounds/{w.background}"),
    ("DELETE", "/api/v1/backgrounds/{id}"): lambda w: Request(
        f"/api/v1/backgrounds/{w.background}", {"force": "true"}
    ),
    ("GET", "/api/v1/me/devices"): lambda w: Request("/api/v1/me/devices"),
    ("GET", "/api/v1/me/devices/{mac}"): lambda w: Request(f"/api/v1/me/devices/{w.mac}"),
    ("PATCH", "/api/v1/me/devices/{mac}"): lambda w: Request(
        f"/api/v1/me/devices/{w.mac}", body={"lines": [{"position": 1, "label": "taken"}]}
    ),
    ("GET", "/api/v1/audit"): lambda w: Request("/api/v1/audit", {"tenant": w.tenant}),
    ("GET", "/api/v1/registrations"): lambda w: Request(
        "/api/v1/registrations", {"tenant": w.tenant}
    ),
    ("GET", "/api/v1/tokens"): lambda w: Request("/api/v1/tokens"),
    ("POST", "/api/v1/tokens"): lambda w: Request(
        "/api/v1/tokens", body={"role": "tenant_admin", "tenant": w.tenant}
    ),
    ("DELETE", "/api/v1/tokens/{token_id}"): lambda w: Request(f"/api/v1/tokens/{w.token_id}"),
    ("GET", "/metrics"): lambda w: Request("/metrics"),
    ("GET", "/api/v1/firewall"): lambda w: Request("/api/v1/firewall", {"tenant": w.tenant}),
    ("PUT", "/api/v1/firewall"): lambda w: Request(
        "/api/v1/firewall", {"tenant": w.tenant}, {"max_failures": 1}
    ),
    ("GET", "/api/v1/bans"): lambda w: Request("/api/v1/bans"),
    ("POST", "/api/v1/bans"): lambda w: Request("/api/v1/bans", body={"address": "192.0.2.99"}),
    ("DELETE", "/api/v1/bans/{address}"): lambda w: Request("/api/v1/bans/192.0.2.99"),
}
NON_PUBLIC = [op for op in ROUTES if op.role != "public"]


def test_every_route_says_how_to_aim_it() -> None:
    assert {(op.method, op.path) for op in NON_PUBLIC} == set(REQUESTS)


@dataclass
class Tenant:
    world: World
    admin: str
    end_user: str
    secrets: list[str]  # what another tenant must never see: names, MACs, usernames


def _token(api: httpx.Client, **body: Any) -> dict[str, Any]:
    made = api.post("/api/v1/tokens", json=body)
    assert made.status_code == 201, made.text
    return dict(made.json())


def _tenant(api: httpx.Client) -> Tenant:
    name = unique_name("scope")
    tenant = api.post(
        "/api/v1/tenants",
        json={"name": name, "realm": "s.example.com", "sip_server": "pbx.s.example"},
    ).json()
    username = unique_name("u").replace("-", "")
    account = api.post("/api/v1/accounts", json={"tenant": tenant["id"], "username": username})
    assert account.status_code == 201, account.text
    number = "1001"
    made = api.post(
        "/api/v1/extensions",
        json={"tenant": tenant["id"], "number": number, "accounts": [username]},
    )
    assert made.status_code == 201, made.text
    mac = unique_mac("0015fd")
    assert (
        api.post(
            "/api/v1/devices", json={"tenant": tenant["id"], "mac": mac, "model": "yealink-t46s"}
        ).status_code
        == 201
    )
    assert api.put(f"/api/v1/devices/{mac}/lines", json=[{"extension": number}]).status_code == 200
    job = api.patch(f"/api/v1/tenants/{tenant['id']}", json={"timezone": "Europe/Berlin"}).json()[
        "job"
    ]
    wait_job(api, job)
    admin = _token(api, role="tenant_admin", tenant=tenant["id"], label=f"admin of {name}")
    end_user = _token(api, role="end_user", tenant=tenant["id"], account=username, label="eu")
    sample = api.get("/api/v1/templates/samples/yealink-t46s/mac.cfg").text
    template = api.post(
        "/api/v1/templates",
        json={"tenant": tenant["id"], "name": f"own {name}", "vendor": "yealink",
              "file": "mac.cfg", "source": sample},
    )  # fmt: skip
    assert template.status_code == 201, template.text
    background = api.post(
        "/api/v1/backgrounds", params={"tenant": tenant["id"]}, content=_png(48),
        headers={"Content-Type": "image/png"},
    )  # fmt: skip
    assert background.status_code == 201, background.text
    world = World(
        tenant["id"], mac, account.json()["id"], username, job["id"], admin["id"],
        template.json()["id"], background.json()["id"],
    )  # fmt: skip
    return Tenant(world, admin["token"], end_user["token"], [name, mac, username])


@pytest.fixture(scope="module")
def api(provedge: Provedge) -> Iterator[httpx.Client]:
    with provedge.api() as client:
        yield client


@pytest.fixture(scope="module")
def tenants(api: httpx.Client) -> tuple[Tenant, Tenant]:
    return _tenant(api), _tenant(api)


def _send(provedge: Provedge, token: str, op_method: str, request: Request) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"}
    if request.content is not None:
        return httpx.request(
            op_method, provedge.control + request.path, params=request.params,
            content=request.content, headers={**headers, "Content-Type": "image/png"}, timeout=10,
        )  # fmt: skip
    return httpx.request(
        op_method,
        provedge.control + request.path,
        params=request.params,
        json=request.body,
        headers=headers,
        timeout=10,
    )


def _last_change(api: httpx.Client) -> int:
    items = api.get("/api/v1/audit", params={"limit": 1}).json()["items"]
    return int(items[0]["id"]) if items else 0


def _same(one: httpx.Response, other: httpx.Response) -> bool:
    def headers(r: httpx.Response) -> dict[str, str]:
        return {k: v for k, v in r.headers.items() if k != "date"}

    return (one.status_code, headers(one), one.content) == (
        other.status_code,
        headers(other),
        other.content,
    )


@pytest.mark.parametrize("who", ["tenant admin", "end user"])
def test_another_tenant_learns_nothing(
    provedge: Provedge, api: httpx.Client, tenants: tuple[Tenant, Tenant], who: str
) -> None:
    victim, attacker = tenants
    token = attacker.admin if who == "tenant admin" else attacker.end_user
    missing = World(MISSING_TENANT, MISSING_MAC, MISSING_ID, "nobody", MISSING_ID, "f" * 12)
    before = _last_change(api)
    for op in NON_PUBLIC:
        aim = REQUESTS[(op.method, op.path)]
        theirs = _send(provedge, token, op.method, aim(victim.world))
        nothing = _send(provedge, token, op.method, aim(missing))
        where = f"{op.method} {op.path} as {who}"
        if theirs.status_code < 400:  # a route with nothing of A's to aim at: B's own view
            assert not any(s in theirs.text for s in victim.secrets), where
            assert op.method == "GET", where
            continue
        assert theirs.status_code in (403, 404), (where, theirs.status_code, theirs.text)
        assert _same(theirs, nothing), (where, theirs.text, nothing.text)
    assert _last_change(api) == before  # and nothing of anyone's changed


def test_an_end_user_reaches_only_its_own_routes(
    provedge: Provedge, api: httpx.Client, tenants: tuple[Tenant, Tenant]
) -> None:
    mine = tenants[0]
    before = _last_change(api)
    for op in NON_PUBLIC:
        if op.role == "self":
            continue
        answer = _send(
            provedge, mine.end_user, op.method, REQUESTS[(op.method, op.path)](mine.world)
        )
        assert answer.status_code in (403, 404), (op.method, op.path, answer.text)
    assert _last_change(api) == before
    own = httpx.get(
        provedge.control + "/api/v1/me/devices",
        headers={"Authorization": f"Bearer {mine.end_user}"},
    )
    assert [d["mac"] for d in own.json()] == [mine.world.mac]


def test_other_tokens_cannot_use_end_user_routes(
    provedge: Provedge, api: httpx.Client, tenants: tuple[Tenant, Tenant]
) -> None:
    mine = tenants[0]
    for op in ROUTES:
        if op.role != "self":
            continue
        for token in (mine.admin, provedge.token):
            answer = _send(provedge, token, op.method, REQUESTS[(op.method, op.path)](mine.world))
            assert answer.status_code == 403, (op.method, op.path, answer.text)
