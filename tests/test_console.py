"""The console's access rules and forms, in-process (the browser tests drive a real server).

Each test builds its own data directory, tenants, devices and tokens.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from starlette.testclient import TestClient

from control.api.app import create_app
from control.api.auth import create_token
from control.api.schemas import AccountIn, DeviceIn, ExtensionIn, TenantIn
from control.console.guard import LOGIN_LIMIT
from control.service import Control
from control.wiring import build_control
from tests.conftest import unique_mac, unique_name


@pytest.fixture
def ctl(tmp_path: Path) -> Iterator[Control]:
    control = build_control(tmp_path, "http://127.0.0.1:9")
    yield control
    control.close()


def client(ctl: Control) -> TestClient:
    return TestClient(create_app(ctl), base_url="http://testserver", follow_redirects=False)


def tenant(ctl: Control) -> dict[str, object]:
    return ctl.create_tenant(
        TenantIn(name=unique_name("con"), realm="c.example.com", sip_server="pbx.c.example.com")
    )


def log_in(web: TestClient, token: str) -> str:
    """Logs ``web`` in with ``token``; returns the session's CSRF token."""
    answer = web.post("/console/login", data={"token": token, "next": "/console/devices"})
    assert answer.status_code == 303, answer.text
    return csrf_of(web.get("/console/tenants").text or web.get("/console/jobs").text)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def test_pages_carry_security_headers_and_the_cookie_its_flags(ctl: Control) -> None:
    web = client(ctl)
    page = web.get("/console/login")
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "<script>" not in page.text  # no inline script to allow
    answer = web.post("/console/login", data={"token": create_token(ctl.db, "operator")})
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie
    assert "Secure" not in cookie  # plain HTTP here; create_app(secure_cookie=True) on TLS


def test_without_a_session_every_page_sends_to_the_login(ctl: Control) -> None:
    web = client(ctl)
    for path in ("/console/", "/console/devices", "/console/accounts", "/console/jobs"):
        answer = web.get(path)
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/console/login?next=")


def test_login_refuses_bad_tokens_then_limits_the_address(ctl: Control) -> None:
    web = client(ctl)
    for _ in range(LOGIN_LIMIT):
        answer = web.post("/console/login", data={"token": "pe_wrong"})
        assert answer.status_code == 401 and "not valid" in answer.text
    good = create_token(ctl.db, "operator")
    limited = web.post("/console/login", data={"token": good})
    assert limited.status_code == 429  # even the right token waits: the limit is per address
    assert int(limited.headers["retry-after"]) > 0


def test_login_goes_back_only_to_console_pages(ctl: Control) -> None:
    web = client(ctl)
    token = create_token(ctl.db, "operator")
    for target, expected in [
        ("/console/jobs", "/console/jobs"),
        ("//evil.example/console/", "/console/"),
        ("https://evil.example/console/", "/console/"),
        ("/api/v1/tenants", "/console/"),
    ]:
        answer = web.post("/console/login", data={"token": token, "next": target})
        assert answer.headers["location"] == expected


def test_a_form_without_the_sessions_csrf_token_changes_nothing(ctl: Control) -> None:
    web = client(ctl)
    log_in(web, create_token(ctl.db, "operator"))
    name = unique_name("csrf")
    fields = {"name": name, "realm": "r.example.com", "sip_server": "pbx.example.com"}
    for csrf in (None, "forged"):
        data = fields if csrf is None else {**fields, "csrf": csrf}
        answer = web.post("/console/tenants", data=data)
        assert answer.status_code == 403 and "csrf" in answer.text
    assert name not in [t["name"] for t in ctl.list_tenants()]


def test_logout_ends_the_session(ctl: Control) -> None:
    web = client(ctl)
    csrf = log_in(web, create_token(ctl.db, "operator"))
    assert web.get("/console/jobs").status_code == 200
    assert web.post("/console/logout", data={"csrf": csrf}).status_code == 303
    web.cookies.clear()
    assert web.get("/console/jobs").status_code == 303


def test_deleting_the_token_ends_its_sessions(ctl: Control) -> None:
    web = client(ctl)
    token = create_token(ctl.db, "operator")
    log_in(web, token)
    with ctl.db.transaction() as conn:
        conn.execute("DELETE FROM tokens")
    assert web.get("/console/jobs").status_code == 303


def test_unknown_query_parameters_are_refused(ctl: Control) -> None:
    web = client(ctl)
    log_in(web, create_token(ctl.db, "operator"))
    answer = web.get("/console/devices?filter=all&colour=red")
    assert answer.status_code == 400 and "colour" in answer.text


def test_a_tenant_admin_cannot_reach_another_tenants_pages_by_url(ctl: Control) -> None:
    mine, theirs = tenant(ctl), tenant(ctl)
    their_mac = unique_mac()
    ctl.create_device(DeviceIn(tenant=theirs["id"], mac=their_mac, model="yealink-t46s"))
    account = ctl.create_account(AccountIn(tenant=theirs["id"], owner="secret-owner"))
    web = client(ctl)
    csrf = log_in(web, create_token(ctl.db, "tenant_admin", int(str(mine["id"]))))
    missing_mac = unique_mac()
    # Another tenant's objects answer exactly as objects that do not exist.
    for path, absent in [
        (f"/console/devices/{their_mac}", f"/console/devices/{missing_mac}"),
        (f"/console/accounts/{account['id']}", "/console/accounts/999999"),
        (f"/console/tenants/{theirs['id']}", "/console/tenants/999999"),
    ]:
        seen, control = web.get(path), web.get(absent)
        assert seen.status_code == control.status_code == 404
        assert str(theirs["name"]) not in seen.text and "secret-owner" not in seen.text
    listing = web.get(f"/console/devices?tenant={theirs['id']}")
    assert listing.status_code == 404 and their_mac not in listing.text
    assert web.get(f"/console/accounts?tenant={theirs['id']}").status_code == 404
    assert web.get("/console/tenants").status_code == 403  # the tenants list: operators only
    changed = web.post(f"/console/devices/{their_mac}", data={"csrf": csrf, "name": "taken over"})
    assert changed.status_code == 404
    assert ctl.get_device(their_mac)["name"] == ""
    removed = web.post("/console/devices/remove", data={"csrf": csrf, "mac": their_mac})
    assert removed.status_code == 404
    assert ctl.get_device(their_mac)["mac"] == their_mac
    theirs_all = {"csrf": csrf, "all_matching": "true", "tenant": str(theirs["id"]),
                  "filter": "all", "q": ""}  # fmt: skip
    for path in ("/console/devices/confirm", "/console/devices/export", "/console/devices/reboot"):
        answer = web.post(path, data={**theirs_all, "action": "remove"})
        assert answer.status_code == 404 and their_mac not in answer.text, path
    batch = web.post("/console/accounts/batch-csv",
                     data={"csrf": csrf, "tenant": str(theirs["id"]), "csv": "username\nintruder\n"})  # fmt: skip
    assert batch.status_code == 404
    assert ctl.list_accounts(theirs["id"], None, "username:intruder")["total"] == 0


def test_import_shows_bad_rows_writes_nothing_then_imports_the_fixed_file(ctl: Control) -> None:
    mine = tenant(ctl)
    web = client(ctl)
    csrf = log_in(web, create_token(ctl.db, "operator"))
    good, bad = unique_mac(), "00:15:65:zz:00:01"
    text = f"mac,model,name\n{good},yealink-t46s,Reception\n{bad},yealink-t46s,Broken\n"

    def send(body: str, dry_run: bool) -> str:
        data = {"csrf": csrf, "tenant": str(mine["id"]), **({"dry_run": "true"} if dry_run else {})}
        answer = web.post(
            "/console/devices/import", data=data, files={"file": ("d.csv", body, "text/csv")}
        )
        return f"{answer.status_code} {answer.text}"

    refused = send(text, dry_run=False)
    assert refused.startswith("422") and "rows[2]" in refused and "Nothing was written" in refused
    assert ctl.list_devices(mine["id"])["items"] == []
    fixed = text.replace(bad, unique_mac())
    preview = send(fixed, dry_run=True)
    assert preview.startswith("200") and "Would create 2" in preview
    assert ctl.list_devices(mine["id"])["items"] == []
    done = send(fixed, dry_run=False)
    assert done.startswith("200") and "Created 2" in done
    assert len(ctl.list_devices(mine["id"])["items"]) == 2


def test_an_account_form_error_names_the_rule_and_changes_nothing(ctl: Control) -> None:
    mine = tenant(ctl)
    account = ctl.create_account(AccountIn(tenant=mine["id"]))
    web = client(ctl)
    csrf = log_in(web, create_token(ctl.db, "operator"))
    answer = web.post(
        f"/console/accounts/{account['id']}",
        data={
            "csrf": csrf, "owner": "Alice", "enabled": "true", "auth_method": "password",
            "rule_action": ["deny", "permit"],
            "rule_network": ["0.0.0.0/0.0.0.0", "216.27.242.66/255.0.255.0"],
        },
    )  # fmt: skip
    assert answer.status_code == 422 and "access_rules.1" in answer.text
    assert ctl.get_account(account["id"])["owner"] == ""
    saved = web.post(
        f"/console/accounts/{account['id']}",
        data={
            "csrf": csrf, "owner": "Alice", "enabled": "true", "auth_method": "password",
            "rule_action": ["deny", "permit"],
            "rule_network": ["0.0.0.0/0.0.0.0", "216.27.242.66/255.255.255.255"],
        },
    )  # fmt: skip
    assert saved.status_code == 303
    stored = ctl.get_account(account["id"])
    assert stored["owner"] == "Alice"
    assert stored["access_rules"] == [
        {"action": "deny", "network": "0.0.0.0/0"},
        {"action": "permit", "network": "216.27.242.66/32"},
    ]


def test_an_end_user_sees_only_its_devices_and_changes_only_its_labels(ctl: Control) -> None:
    from control.api.schemas import ExtensionIn

    mine = tenant(ctl)
    account = ctl.create_account(AccountIn(tenant=mine["id"], username=unique_name("eu")))
    other = ctl.create_account(AccountIn(tenant=mine["id"], username=unique_name("eo")))
    ctl.create_extension(
        ExtensionIn(tenant=mine["id"], number="3101", accounts=[account["username"]])
    )
    ctl.create_extension(
        ExtensionIn(tenant=mine["id"], number="3102", accounts=[other["username"]])
    )
    my_mac, their_mac = unique_mac(), unique_mac()
    for mac, number in ((my_mac, "3101"), (their_mac, "3102")):
        ctl.create_device(DeviceIn(tenant=mine["id"], mac=mac, model="yealink-t46s"))
        ctl.set_lines(mac, [number])
    web = client(ctl)
    token = create_token(ctl.db, "end_user", int(str(mine["id"])), account=account["username"])
    assert web.post("/console/login", data={"token": token}).status_code == 303
    page = web.get("/console/me")
    assert page.status_code == 200 and my_mac in page.text and their_mac not in page.text
    csrf = csrf_of(page.text)
    for path in (
        "/console/devices",
        f"/console/devices/{my_mac}",
        "/console/accounts",
        "/console/jobs",
    ):
        assert web.get(path).status_code == 403
    saved = web.post(
        f"/console/me/{my_mac}", data={"csrf": csrf, "position": "1", "label": "Front desk"}
    )
    assert saved.status_code == 303
    assert (
        ctl.my_device(my_mac, account["id"], int(str(mine["id"])))["lines"][0]["label"]
        == "Front desk"
    )
    refused = web.post(
        f"/console/me/{their_mac}", data={"csrf": csrf, "position": "1", "label": "x"}
    )
    assert refused.status_code == 404
    assert "BLF keys of" in web.get("/console/me").text
    keyed = web.post(f"/console/me/{my_mac}/keys",
                     data={"csrf": csrf, "key_extension": ["3102", ""], "key_label": ["Eo", ""]})  # fmt: skip
    assert keyed.status_code == 303
    mine_now = ctl.my_device(my_mac, account["id"], int(str(mine["id"])))
    assert [(k["extension"], k["label"]) for k in mine_now["keys"]] == [("3102", "Eo")]
    unknown = web.post(f"/console/me/{my_mac}/keys",
                       data={"csrf": csrf, "key_extension": ["9999"], "key_label": [""]})  # fmt: skip
    assert unknown.status_code == 422
    theirs = web.post(f"/console/me/{their_mac}/keys",
                      data={"csrf": csrf, "key_extension": ["3101"], "key_label": [""]})  # fmt: skip
    assert theirs.status_code == 404 and ctl.get_device(their_mac)["keys"] == []


def test_the_firewall_panel_sets_thresholds_bans_and_lifts(ctl: Control) -> None:
    web = client(ctl)
    csrf = log_in(web, create_token(ctl.db, "operator"))
    page = web.get("/console/firewall")
    assert page.status_code == 200 and "Failures that ban an address" in page.text
    saved = web.post(
        "/console/firewall",
        data={"csrf": csrf, "max_failures": "7", "window_s": "30", "ban_s": "120",
              "trusted": "10.0.0.0/8\n192.0.2.0/24"},
    )  # fmt: skip
    assert saved.status_code == 303, saved.text
    settings = ctl.firewall.settings(None)
    assert (settings["max_failures"], settings["window_s"], settings["ban_s"]) == (7, 30, 120)
    assert settings["trusted"] == ["10.0.0.0/8", "192.0.2.0/24"]
    bad = web.post("/console/firewall", data={"csrf": csrf, "trusted": "10.0.0.0/99"})
    assert bad.status_code == 422 and "trusted[0]" in bad.text
    assert ctl.firewall.settings(None)["trusted"] == ["10.0.0.0/8", "192.0.2.0/24"]
    assert (
        web.post("/console/bans", data={"csrf": csrf, "address": "203.0.113.9"}).status_code == 303
    )
    listed = web.get("/console/firewall").text
    assert "203.0.113.9" in listed and "Lift the ban of 203.0.113.9" in listed
    lifted = web.post("/console/bans/lift", data={"csrf": csrf, "address": "203.0.113.9"})
    assert lifted.status_code == 303
    assert all(ban["address"] != "203.0.113.9" for ban in ctl.firewall.list())


def test_a_tenant_admin_sees_registrations_but_not_the_firewall(ctl: Control) -> None:
    mine = tenant(ctl)
    web = client(ctl)
    log_in(web, create_token(ctl.db, "tenant_admin", int(str(mine["id"]))))
    page = web.get("/console/registrations")
    assert page.status_code == 200 and "No phone is registered." in page.text
    assert web.get("/console/firewall").status_code == 403
    assert "/console/firewall" not in page.text  # not offered in the menu either


def test_a_device_reboot_from_its_page_queues_the_job_and_shows_its_results(
    ctl: Control,
) -> None:
    mine = tenant(ctl)
    mac = unique_mac()
    ctl.create_device(DeviceIn(tenant=mine["id"], mac=mac, model="yealink-t46s"))
    web = client(ctl)
    csrf = log_in(web, create_token(ctl.db, "operator"))
    assert "Reboot or re-sync" in web.get(f"/console/devices/{mac}").text
    sent = web.post(f"/console/devices/{mac}/reboot", data={"csrf": csrf, "mode": "reboot"})
    assert sent.status_code == 303
    job_path = sent.headers["location"].split("?")[0]
    assert job_path.startswith("/console/jobs/")
    job = web.get(job_path)
    assert job.status_code == 200 and "Per device" in job.text and mac in job.text
    live = web.get(f"{job_path}/progress")  # the part the page refetches while it runs
    assert live.status_code == 200 and "Per device" in live.text and mac in live.text
    bad = web.post(f"/console/devices/{mac}/reboot", data={"csrf": csrf, "mode": "explode"})
    assert bad.status_code == 422


def test_templates_panel_shows_lint_errors_at_their_line_then_stores_and_previews(
    ctl: Control,
) -> None:
    mine = tenant(ctl)
    mac = unique_mac()
    ctl.create_device(DeviceIn(tenant=mine["id"], mac=mac, model="yealink-t46s"))
    web = client(ctl)
    csrf = log_in(web, create_token(ctl.db, "operator"))
    assert "No custom template yet" in web.get("/console/templates").text
    form = {"csrf": csrf, "tenant": str(mine["id"]), "name": "desk", "vendor": "yealink",
            "file": "mac.cfg", "engine": "default",
            "source": "#!version:1.0.0.1\nx = ${line1.usr}\n"}  # fmt: skip
    refused = web.post("/console/templates", data=form)
    assert refused.status_code == 422 and "line 2" in refused.text and "line1.user" in refused.text
    assert ctl.list_templates(mine["id"], None) == []
    form["source"] = "#!version:1.0.0.1\ncustom.who = ${device.mac}\n"
    stored = web.post("/console/templates", data=form)
    assert stored.status_code == 303, stored.text
    (made,) = ctl.list_templates(mine["id"], None)
    shown = web.get(f"/console/templates/{made['id']}/preview?mac={mac}&file={mac}.cfg")
    assert shown.status_code == 200 and f"custom.who = {mac}" in shown.text
    audit = web.get(f"/console/audit?object=template/{made['id']}")
    assert audit.status_code == 200 and f"template/{made['id']}" in audit.text


def test_the_tenant_page_sets_delivery_and_provisioning_as_the_api_does(tmp_path: Path) -> None:
    ctl = build_control(tmp_path, "http://127.0.0.1:9", edge_ip="203.0.113.5")
    try:
        mine = tenant(ctl)
        web = client(ctl)
        token = create_token(ctl.db, "operator")
        csrf = log_in(web, token)
        page = web.get(f"/console/tenants/{mine['id']}").text
        assert 'name="delivery_policy"' in page and 'name="provision_mode"' in page
        assert 'name="provision_limit"' in page
        wanted = {"delivery_policy": "device_credentials+ua_mac_match", "provision_limit": "3",
                  "provision_mode": "public_ip"}  # fmt: skip
        saved = web.post(f"/console/tenants/{mine['id']}", data={"csrf": csrf, **wanted})
        assert saved.status_code == 303, saved.text
        api = web.get(f"/api/v1/tenants/{mine['id']}", headers={"Authorization": f"Bearer {token}"})
        assert api.status_code == 200, api.text
        view = api.json()
        assert view["delivery_policy"] == "device_credentials+ua_mac_match"
        assert view["provision_limit"] == 3 and view["provision_mode"] == "public_ip"
        assert "203.0.113.5" in view["provisioning_url"]
        shown = web.get(f"/console/tenants/{mine['id']}").text
        assert "selected>device_credentials+ua_mac_match<" in shown and 'value="3"' in shown
        # The same checks as the API: nothing stored on a bad value.
        bad = web.post(f"/console/tenants/{mine['id']}",
                       data={"csrf": csrf, "delivery_policy": "open", "provision_limit": "-1"})  # fmt: skip
        assert bad.status_code == 422 and "delivery_policy" in bad.text
        assert "provision_limit" in bad.text
        cleared = web.post(
            f"/console/tenants/{mine['id']}", data={"csrf": csrf, "provision_limit": "0"}
        )
        assert cleared.status_code == 303
        assert ctl.get_tenant(mine["id"], None)["provision_limit"] is None  # 0: no limit
        pinned = web.post(
            f"/console/tenants/{mine['id']}", data={"csrf": csrf, "hotdesk_pin": "4460"}
        )
        assert (
            pinned.status_code == 303 and ctl.get_tenant(mine["id"], None)["hotdesk_pin"] == "4460"
        )
        refused = web.post(
            f"/console/tenants/{mine['id']}", data={"csrf": csrf, "hotdesk_pin": "44"}
        )
        assert refused.status_code == 422 and "hotdesk_pin" in refused.text
        unpinned = web.post(
            f"/console/tenants/{mine['id']}", data={"csrf": csrf, "hotdesk_pin": ""}
        )
        assert unpinned.status_code == 303 and ctl.get_tenant(mine["id"], None)["hotdesk_pin"] == ""
    finally:
        ctl.close()


def test_a_template_page_shows_the_devices_its_render_fails_for(ctl: Control) -> None:
    mine = tenant(ctl)
    boom, fine = unique_mac(), unique_mac()
    ctl.create_device(DeviceIn(tenant=mine["id"], mac=boom, model="yealink-t46s", name="boom"))
    ctl.create_device(DeviceIn(tenant=mine["id"], mac=fine, model="yealink-t46s"))
    source = (ctl.template_sample("yealink-t46s", "mac.cfg", "advanced")
              + "{% if device.name == 'boom' %}{{ 1 // 0 }}{% endif %}\n")  # fmt: skip
    made = ctl.save_template(None, {"tenant": mine["id"], "name": "fails", "vendor": "yealink",
                                    "file": "mac.cfg", "engine": "advanced", "source": source,
                                    "is_default": 1}, None)  # fmt: skip
    ctl.jobs.run_until_idle()
    web = client(ctl)
    log_in(web, create_token(ctl.db, "operator"))
    page = web.get(f"/console/templates/{made['id']}").text
    assert "Fails for 1 device<" in page and boom in page and fine not in page
    assert "ZeroDivisionError" in page


def test_the_devices_list_resets_counters_and_reboots_the_selected(ctl: Control) -> None:
    mine = tenant(ctl)
    macs = [unique_mac() for _ in range(2)]
    for mac in macs:
        ctl.create_device(DeviceIn(tenant=mine["id"], mac=mac, model="yealink-t46s"))
    web = client(ctl)
    csrf = log_in(web, create_token(ctl.db, "operator"))
    listing = web.get(f"/console/devices?tenant={mine['id']}").text
    assert "Reset provision counter" in listing and "Reboot selected" in listing
    reset = web.post("/console/devices/reset-counter", data={"csrf": csrf, "mac": macs})
    assert reset.status_code == 303 and "2%20provision%20counter" in reset.headers["location"]
    none = web.post("/console/devices/reboot", data={"csrf": csrf})
    assert none.status_code == 422
    sent = web.post("/console/devices/reboot", data={"csrf": csrf, "mac": macs})
    assert sent.status_code == 303 and sent.headers["location"].startswith("/console/jobs/")
    job = ctl.get_job(int(sent.headers["location"].split("/")[3].split("?")[0]))
    assert (job["kind"], job["total"]) == ("reboot", 2)


def test_a_device_page_sets_blf_keys_and_its_own_template(ctl: Control) -> None:
    mine = tenant(ctl)
    mac = unique_mac()
    ctl.create_device(DeviceIn(tenant=mine["id"], mac=mac, model="yealink-t46s"))
    ctl.create_account(AccountIn(tenant=mine["id"], username="keyuser"))
    ctl.create_extension(ExtensionIn(tenant=mine["id"], number="401", accounts=["keyuser"]))
    sample = ctl.template_sample("yealink-t46s", "mac.cfg", "default")
    made = ctl.save_template(None, {"tenant": mine["id"], "name": "own", "vendor": "yealink",
                                    "file": "mac.cfg", "engine": "default",
                                    "source": sample + "desk.own = 1\n"}, None)  # fmt: skip
    web = client(ctl)
    csrf = log_in(web, create_token(ctl.db, "operator"))
    shown = web.get(f"/console/devices/{mac}").text
    assert "BLF keys (10 free after its lines on this model)" in shown and "own (mac.cfg)" in shown
    saved = web.post(f"/console/devices/{mac}/keys", data={
        "csrf": csrf, "key_extension": ["401", ""], "key_label": ["Desk 4", ""],
    })  # fmt: skip
    assert saved.status_code == 303
    assert [(k["extension"], k["label"]) for k in ctl.get_device(mac)["keys"]] == [
        ("401", "Desk 4")
    ]
    bad = web.post(f"/console/devices/{mac}/keys", data={"csrf": csrf, "key_extension": ["999"],
                                                          "key_label": [""]})  # fmt: skip
    assert bad.status_code == 422
    chosen = web.post(f"/console/devices/{mac}/template",
                      data={"csrf": csrf, "template": str(made["id"])})  # fmt: skip
    assert chosen.status_code == 303 and ctl.get_device(mac)["template"] == made["id"]
    assert "desk.own = 1" in ctl.preview(mac, f"{mac}.cfg", None)["body"]
    cleared = web.post(f"/console/devices/{mac}/template", data={"csrf": csrf, "template": "0"})
    assert cleared.status_code == 303 and ctl.get_device(mac)["template"] is None
    shown = web.get(f"/console/devices/{mac}").text
    assert 'action="/console/devices/confirm"' in shown  # its remove asks first, script or not
    asked = web.post(
        "/console/devices/confirm", data={"csrf": csrf, "action": "remove", "mac": mac}
    )
    assert asked.status_code == 200 and "Remove 1 device(s)?" in asked.text
    assert ctl.get_device(mac)["mac"] == mac
    gone = web.post("/console/devices/remove", data={"csrf": csrf, "mac": mac})
    assert gone.status_code == 303 and web.get(f"/console/devices/{mac}").status_code == 404


def test_the_devices_list_acts_on_every_pages_devices_through_its_filter(ctl: Control) -> None:
    from control.domain import devicecsv

    mine, theirs = tenant(ctl), tenant(ctl)
    taken = [unique_mac() for _ in range(55)]  # more than one page of the list (50)
    kept = [unique_mac() for _ in range(2)]
    text = "mac,model,name\n" + "".join(f"{m},yealink-t46s,bulk {i}\n" for i, m in enumerate(taken))
    text += "".join(f"{m},yealink-t46s,keep {i}\n" for i, m in enumerate(kept))
    ctl.import_devices(mine["id"], devicecsv.read_rows(text), False, None)
    web = client(ctl)
    csrf = log_in(web, create_token(ctl.db, "operator"))
    listing = web.get(f"/console/devices?tenant={mine['id']}&q=bulk").text
    assert listing.count('name="mac" value=') == 50  # one page
    assert 'aria-sort="ascending"><a href="/console/devices?filter=all' in listing  # by MAC
    assert "sort=name&amp;order=asc" in listing and 'rel="first"' not in listing
    cursor = re.search(r'cursor=([^"]+)" rel="next"', listing)
    assert cursor
    second = web.get(f"/console/devices?tenant={mine['id']}&q=bulk&cursor={cursor.group(1)}")
    assert second.text.count('name="mac" value=') == 5 and 'rel="first"' in second.text
    assert "All 55 device(s) the list holds, on every page" in listing
    every = {"csrf": csrf, "all_matching": "true", "tenant": str(mine["id"]), "filter": "all",
             "q": "bulk"}  # fmt: skip

    asked = web.post("/console/devices/confirm", data={**every, "action": "remove"})
    assert asked.status_code == 200 and "Remove 55 device(s)?" in asked.text
    assert 'name="all_matching"' in asked.text and 'name="mac"' not in asked.text  # the filter
    assert len(ctl.list_devices(mine["id"])["items"]) == 57  # nothing done before the yes
    picked = web.post("/console/devices/confirm",
                      data={"csrf": csrf, "action": "reboot", "mac": taken[:3]})  # fmt: skip
    assert "Reboot 3 device(s)?" in picked.text

    exported = web.post("/console/devices/export", data=every)
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    assert len(exported.text.strip().splitlines()) == 1 + 55
    ticked = web.post("/console/devices/export",
                      data={"csrf": csrf, "tenant": str(mine["id"]), "mac": kept})  # fmt: skip
    assert [line.split(",")[0] for line in ticked.text.strip().splitlines()[1:]] == sorted(kept)

    reset = web.post("/console/devices/reset-counter", data=every)
    assert reset.status_code == 303 and "55%20provision%20counter" in reset.headers["location"]
    asked = web.post("/console/devices/confirm", data={**every, "action": "resync"})
    assert "Re-sync 55 device(s)?" in asked.text and 'name="rate_per_s"' in asked.text
    too_fast = web.post("/console/devices/resync", data={**every, "rate_per_s": "0"})
    assert too_fast.status_code == 422 and "rate_per_s" in too_fast.text
    rebooted = web.post("/console/devices/resync", data={**every, "rate_per_s": "2"})
    assert rebooted.status_code == 303
    job_id = int(rebooted.headers["location"].split("/")[3].split("?")[0])
    job = ctl.get_job(job_id)
    assert (job["kind"], job["total"]) == ("reboot", 55)
    params = json.loads(ctl.db.query_one("SELECT params FROM jobs WHERE id = ?", (job_id,))[0])
    assert (params["rate_per_s"], params["wave_size"]) == (2.0, 2)  # the pace asked for

    admin = client(ctl)
    other_csrf = log_in(admin, create_token(ctl.db, "tenant_admin", int(str(theirs["id"]))))
    refused = admin.post("/console/devices/remove", data={**every, "csrf": other_csrf})
    assert refused.status_code == 404  # another tenant's list, by its filter: not found
    removed = web.post("/console/devices/remove", data=every)
    assert removed.status_code == 303 and "55%20device" in removed.headers["location"]
    assert sorted(d["mac"] for d in ctl.list_devices(mine["id"])["items"]) == sorted(kept)


def test_a_csv_account_batch_previews_its_rows_then_shows_the_passwords_once(
    ctl: Control,
) -> None:
    import html
    from urllib.parse import unquote

    mine = tenant(ctl)
    web = client(ctl)
    csrf = log_in(web, create_token(ctl.db, "operator"))
    first, second = unique_name("csva"), unique_name("csvb")
    bad = f"username,owner\n{first},Ann\n{first},Bob\n"  # row 2 repeats row 1's name

    def send(body: str, dry_run: bool) -> tuple[int, str]:
        data = {"csrf": csrf, "tenant": str(mine["id"]), **({"dry_run": "true"} if dry_run else {})}
        answer = web.post(
            "/console/accounts/batch-csv", data=data, files={"file": ("a.csv", body, "text/csv")}
        )
        return answer.status_code, answer.text

    status, page = send(bad, dry_run=False)
    assert status == 422 and "rows[2].username" in page and "Nothing was written" in page
    assert ctl.list_accounts(mine["id"])["total"] == 0
    status, page = send(bad.replace(f"{first},Bob", f"{second},Bob"), dry_run=True)
    assert status == 200 and "Would create 2 account(s)" in page and second in page
    assert ctl.list_accounts(mine["id"])["total"] == 0
    carried = re.search(r'name="csv" value="([^"]*)"', page)
    assert carried
    made = web.post(
        "/console/accounts/batch-csv",
        data={"csrf": csrf, "tenant": str(mine["id"]), "csv": html.unescape(carried.group(1))},
    )
    assert made.status_code == 200 and "2 accounts created" in made.text
    link = re.search(r'id="batch-download" href="data:text/csv;charset=utf-8,([^"]+)"', made.text)
    assert link
    rows = [line.split(",") for line in unquote(html.unescape(link.group(1))).splitlines()]
    assert rows[0] == ["id", "username", "password", "realm"]
    for account_id, username, password, _ in rows[1:]:
        assert ctl.reveal_password(int(account_id), None)["password"] == password
    assert sorted(r[1] for r in rows[1:]) == sorted([first, second])
    assert made.headers["cache-control"] == "no-store"
    by_owner = web.get(f"/console/accounts?tenant={mine['id']}&sort=owner&order=desc").text
    assert 'aria-sort="descending"><a href="/console/accounts?tenant=' in by_owner
    assert by_owner.index(second) < by_owner.index(first)  # Bob before Ann, descending


def test_the_templates_panel_offers_the_shipped_samples_and_a_device_its_registrations(
    ctl: Control,
) -> None:
    web = client(ctl)
    log_in(web, create_token(ctl.db, "operator"))
    for engine in ("default", "advanced"):
        got = web.get(f"/console/templates/sample?model=yealink-t46s&file=mac.cfg&engine={engine}")
        assert got.status_code == 200, got.text
        assert got.text == ctl.template_sample("yealink-t46s", "mac.cfg", engine)
        assert got.headers["content-disposition"] == 'attachment; filename="mac.cfg"'
    assert web.get("/console/templates/sample?model=yealink-t46s&file=nope.cfg").status_code == 404
    bad = web.get("/console/templates/sample?model=yealink-t46s&file=mac.cfg&engine=x")
    assert bad.status_code == 422 and "engine" in bad.text
    mine = tenant(ctl)
    mac = unique_mac()
    ctl.create_device(DeviceIn(tenant=mine["id"], mac=mac, model="yealink-t46s"))
    shown = web.get(f"/console/devices/{mac}").text
    assert "Current registrations" in shown and "No phone is registered." in shown


def test_the_readme_shows_every_panel_the_browser_tests_photograph() -> None:
    root = Path(__file__).resolve().parent.parent
    shown = set(re.findall(r"docs/console/([\w-]+)\.png", (root / "README.md").read_text()))
    taken = {path.stem for path in (root / "docs" / "console").glob("*.png")}
    assert shown <= taken  # no picture missing
    assert taken <= shown  # no panel `make screenshots` takes left out of the README
    browser_tests = (root / "tests" / "test_console_browser.py").read_text()
    named = set(re.findall(r'check_panel\(page, shots, "([\w-]+)"\)', browser_tests))
    assert {name for name in taken if not name.endswith("-phone")} == named


def test_a_device_page_chooses_a_background(ctl: Control) -> None:
    mine = tenant(ctl)
    picture = io.BytesIO()
    Image.new("RGB", (64, 48), "teal").save(picture, format="PNG")
    made = ctl.upload_background(mine["id"], "Teal", picture.getvalue(), "image/png")
    mac, mono = unique_mac(), unique_mac()
    ctl.create_device(DeviceIn(tenant=mine["id"], mac=mac, model="yealink-t46s"))
    ctl.create_device(DeviceIn(tenant=mine["id"], mac=mono, model="cisco-spa508g"))
    web = client(ctl)
    csrf = log_in(web, create_token(ctl.db, "operator"))
    shown = web.get(f"/console/devices/{mac}").text
    assert "scaled to 480x272" in shown and "Teal (64x48)" in shown
    assert "bg-choice" not in web.get(f"/console/devices/{mono}").text  # no screen for it
    chosen = web.post(f"/console/devices/{mac}/background",
                      data={"csrf": csrf, "background": str(made["id"])})  # fmt: skip
    assert chosen.status_code == 303 and ctl.get_device(mac)["background"] == made["id"]
    assert f'value="{made["id"]}" selected' in web.get(f"/console/devices/{mac}").text
    cleared = web.post(f"/console/devices/{mac}/background", data={"csrf": csrf, "background": ""})
    assert cleared.status_code == 303 and ctl.get_device(mac)["background"] is None
