"""The console in a real browser: Playwright driving the distribution's Chromium against a
real ``provedge run`` on loopback.

Chromium comes from Debian (``make tools`` installs the ``chromium`` package); Playwright
is pointed at that executable and downloads nothing. Each panel is checked with axe-core
(vendored in tests/vendor/) for violations of any impact, and photographed: into
the test's temporary directory, or into docs/console/ when ``PROVEDGE_SCREENSHOTS`` names a
directory (``make screenshots``).
"""

from __future__ import annotations

import os
import select
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright import sync_api

from tests.conftest import Provedge, unique_mac, unique_name
from tests.sipclient import Phone
from tests.vendorcheck import yealink_settings

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
AXE = Path(__file__).with_name("vendor") / "axe.min.js"
LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
NOTIFY_WAIT_S = 10.0  # bound on the wait for a reboot wave's NOTIFY
JOB_WAIT_MS = 10_000  # bound on the job page catching up with a phone


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    target = os.environ.get("PROVEDGE_SCREENSHOTS")
    path = Path(target) if target else tmp_path / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def page(browser: Any, provedge: Provedge) -> Iterator[Any]:
    context = browser.new_context(base_url=provedge.control, viewport=LAPTOP)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=provedge.control)
    tab = context.new_page()
    tab.on("dialog", lambda dialog: dialog.accept())  # the confirmation dialogs: yes
    yield tab
    context.close()


def log_in(page: Any, token: str, lands_on: str = "devices") -> None:
    page.goto("/console/login")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"**/console/{lands_on}**")


def check_panel(page: Any, shots: Path, name: str) -> None:
    """No accessibility violation (axe-core), nothing wider than a phone's screen;
    a screenshot, laptop and phone."""
    page.evaluate(AXE.read_text())
    result = page.evaluate("async () => await axe.run(document)")
    # None at all, of any impact (a missing accessible name is critical): the panels have none.
    bad = [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3]) for v in result["violations"]
    ]
    assert bad == [], f"{name}: {bad}"
    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
    page.set_viewport_size(PHONE)
    # Readable on a phone: nothing wider than its screen (wide tables scroll in their box).
    wide = page.evaluate("document.documentElement.scrollWidth")
    assert wide <= PHONE["width"], f"{name}: {wide} px wide on a {PHONE['width']} px screen"
    page.screenshot(path=str(shots / f"{name}-phone.png"), full_page=True)
    page.set_viewport_size(LAPTOP)


def api(provedge: Provedge) -> httpx.Client:
    return provedge.api()


def test_import_assign_copy_url_and_fetch_the_phones_file(
    page: Any, provedge: Provedge, shots: Path
) -> None:
    with api(provedge) as client:
        tenant = client.post(
            "/api/v1/tenants",
            json={"name": unique_name("web"), "realm": "w.example.com", "sip_server": "pbx.w.example.com"},
        ).json()  # fmt: skip
        account = client.post(
            "/api/v1/accounts", json={"tenant": tenant["id"], "username": unique_name("alice")}
        ).json()
        number = "2" + unique_mac()[-5:].translate(str.maketrans("abcdef", "123456"))
        made = client.post(
            "/api/v1/extensions",
            json={"tenant": tenant["id"], "number": number, "accounts": [account["username"]]},
        )
        assert made.status_code == 201, made.text
        bob = client.post(
            "/api/v1/accounts", json={"tenant": tenant["id"], "username": unique_name("bob")}
        ).json()
        watched = str(int(number) + 1)  # the extension a BLF key of the device watches
        made = client.post(
            "/api/v1/extensions",
            json={"tenant": tenant["id"], "number": watched, "accounts": [bob["username"]]},
        )
        assert made.status_code == 201, made.text
    log_in(page, provedge.token)
    check_panel(page, shots, "devices")

    good, spare = unique_mac(), unique_mac()
    bad_csv = f"mac,model,name\n{good},yealink-t46s,Desk\nnot-a-mac,yealink-t46s,Broken\n"
    importer = page.locator("form", has=page.get_by_role("heading", name="Import a CSV"))
    importer.get_by_label("Tenant").select_option(str(tenant["id"]))
    importer.get_by_label("File").set_input_files(
        {"name": "phones.csv", "mimeType": "text/csv", "buffer": bad_csv.encode()}
    )
    importer.get_by_label("Dry run").uncheck()
    importer.get_by_role("button", name="Import").click()
    assert page.get_by_role("alert").first.inner_text().startswith("Nothing was written")
    assert "rows[2]" in page.locator("table.row-errors").inner_text()
    check_panel(page, shots, "import-errors")
    with api(provedge) as client:
        listed = client.get("/api/v1/devices", params={"tenant": tenant["id"]}).json()
        assert listed["items"] == []

    page.goto("/console/devices")
    importer = page.locator("form", has=page.get_by_role("heading", name="Import a CSV"))
    importer.get_by_label("Tenant").select_option(str(tenant["id"]))
    importer.get_by_label("File").set_input_files(
        {"name": "phones.csv", "mimeType": "text/csv",
         "buffer": bad_csv.replace("not-a-mac", spare).encode()}
    )  # fmt: skip
    importer.get_by_label("Dry run").uncheck()
    importer.get_by_role("button", name="Import").click()
    assert "Created 2" in page.get_by_role("status").inner_text()

    page.goto(f"/console/devices?tenant={tenant['id']}")
    page.get_by_label("Unassigned").check()
    page.get_by_role("button", name="Apply").click()
    rows = page.locator("tbody tr")
    assert rows.count() == 2
    page.get_by_role("link", name="Name", exact=True).click()  # sort by the column
    sync_api.expect(page.get_by_role("columnheader", name="Name")).to_have_attribute(
        "aria-sort", "ascending"
    )
    assert rows.nth(0).get_by_role("cell").nth(2).inner_text() == "Broken"
    page.get_by_role("link", name="Name", exact=True).click()  # again: the other way
    sync_api.expect(page.get_by_role("columnheader", name="Name")).to_have_attribute(
        "aria-sort", "descending"
    )
    assert rows.nth(0).get_by_role("cell").nth(2).inner_text() == "Desk"
    assert rows.count() == 2  # the filter kept
    page.get_by_label("Search").fill(":".join(good[i : i + 2] for i in range(0, 12, 2)).upper())
    page.get_by_role("button", name="Apply").click()
    assert rows.count() == 1 and "1 device(s)" in page.locator("caption").inner_text()
    page.get_by_role("link", name=good).click()
    page.get_by_label("Line 1", exact=True).select_option(number)
    page.get_by_role("button", name="Save lines").click()
    assert "Lines saved" in page.get_by_role("status").inner_text()
    page.get_by_label("Key 1: extension").select_option(watched)
    page.get_by_label("Key 1: label").fill("Bob")
    page.get_by_role("button", name="Save keys").click()
    assert "BLF keys saved" in page.get_by_role("status").inner_text()
    check_panel(page, shots, "device")

    page.get_by_role("button", name="Copy the provisioning URL").click()
    url = page.evaluate("navigator.clipboard.readText()")
    files = page.locator("dt:has-text('Files') + dd").inner_text().split(", ")
    fetched = {name: httpx.get(url + name, timeout=10) for name in files}
    assert [r.status_code for r in fetched.values()] == [200] * len(files)
    config = "".join(r.text for r in fetched.values())  # the boot file, then the per-MAC one
    assert account["username"] in config and account["password"] in config
    # The key sits after the T46S's one line: its key 2, a BLF (16) on the watched extension.
    settings = yealink_settings(fetched[f"{good}.cfg"].content)
    key = tuple(settings[f"linekey.2.{name}"] for name in ("type", "value", "label"))
    assert key == ("16", watched, "Bob")

    page.goto(f"/console/devices?tenant={tenant['id']}&filter=unassigned")
    assert page.locator("tbody tr").count() == 1  # the assigned one left the filter

    # The account's end user: only that device, and only its labels and BLF keys.
    with api(provedge) as client:
        made = client.post("/api/v1/tokens", json={"role": "end_user", "tenant": tenant["id"],
                                                   "account": account["username"]})  # fmt: skip
        assert made.status_code == 201, made.text
    page.get_by_role("button", name="Log out").click()
    log_in(page, made.json()["token"], lands_on="me")
    assert page.get_by_role("heading", level=2).first.inner_text().startswith("Desk")
    assert spare not in page.content()
    assert page.get_by_role("navigation", name="Main").get_by_role("link").count() == 0
    page.get_by_label("Label of line 1").fill("Front desk")
    page.get_by_role("button", name="Save labels").click()
    sync_api.expect(page.get_by_role("status")).to_contain_text("Labels saved")
    page.get_by_label("Key 1: extension").fill(number)
    page.get_by_label("Key 1: label").fill("Me too")
    page.get_by_role("button", name="Save keys").click()
    sync_api.expect(page.get_by_role("status")).to_contain_text("BLF keys saved")
    check_panel(page, shots, "me")
    with api(provedge) as client:
        device = client.get(f"/api/v1/devices/{good}").json()
    assert device["lines"][0]["label"] == "Front desk"
    assert [(k["extension"], k["label"]) for k in device["keys"]] == [(number, "Me too")]


def test_wizard_account_activates_through_its_link_and_search(
    page: Any, provedge: Provedge, shots: Path
) -> None:
    with api(provedge) as client:
        tenant = client.post(
            "/api/v1/tenants",
            json={"name": unique_name("wiz"), "realm": "z.example.com", "sip_server": "pbx.z.example.com"},
        ).json()  # fmt: skip
    log_in(page, provedge.token)
    page.goto(f"/console/accounts?tenant={tenant['id']}")
    creator = page.locator("form", has=page.get_by_role("heading", name="New account"))
    creator.get_by_label("Wizard").check()
    creator.get_by_label("Owner").fill("Carol Wizard")
    creator.get_by_role("button", name="Create").click()
    link = page.locator("#activation-url").get_attribute("href")
    assert link and "/api/v1/activations/" in link
    check_panel(page, shots, "account-created")
    used = httpx.get(link, timeout=10)
    assert used.status_code == 200, used.text
    assert httpx.get(link, timeout=10).status_code == 410  # one time only

    page.goto(f"/console/accounts?tenant={tenant['id']}")
    page.get_by_label("Search (Lucene syntax)").fill("owner:carol* AND NOT email:*example.org")
    page.get_by_role("button", name="Search").click()
    assert "1 account(s)" in page.get_by_role("status").inner_text()
    check_panel(page, shots, "accounts")
    page.get_by_label("Search (Lucene syntax)").fill("owner:carol )")
    page.get_by_role("button", name="Search").click()
    problem = page.locator("ul.errors").inner_text()
    assert problem.startswith("q:") and "position 12" in problem  # where it broke

    # A CSV batch: a bad row shown with nothing written, then a dry run, then the passwords.
    first, second = unique_name("csv1"), unique_name("csv2")
    page.goto(f"/console/accounts?tenant={tenant['id']}")
    batch = page.locator("form", has=page.get_by_role("heading", name="Batch from a CSV file"))
    batch.get_by_label("File").set_input_files(
        {"name": "a.csv", "mimeType": "text/csv",
         "buffer": f"username,owner\n{first},Ann\nbad name,Bob\n".encode()}
    )  # fmt: skip
    batch.get_by_label("Dry run").uncheck()
    batch.get_by_role("button", name="Upload CSV").click()
    sync_api.expect(page.get_by_role("alert")).to_contain_text("Nothing was written")
    assert "rows[2].username" in page.locator("table.row-errors").inner_text()
    page.goto(f"/console/accounts?tenant={tenant['id']}")
    batch.get_by_label("File").set_input_files(
        {"name": "a.csv", "mimeType": "text/csv",
         "buffer": f"username,owner\n{first},Ann\n{second},Bob\n".encode()}
    )  # fmt: skip
    batch.get_by_role("button", name="Upload CSV").click()  # a dry run: the box is ticked
    sync_api.expect(page.get_by_role("status")).to_contain_text("Would create 2 account(s)")
    check_panel(page, shots, "account-batch-preview")
    page.get_by_role("button", name="Create 2 account(s)").click()
    sync_api.expect(page.get_by_role("heading", level=1)).to_have_text("2 accounts created")
    with page.expect_download() as downloaded:
        page.get_by_role("link", name="Download as CSV").click()
    rows = [line.split(",") for line in Path(downloaded.value.path()).read_text().splitlines()]
    with api(provedge) as client:
        for account_id, username, password, _ in rows[1:]:
            shown = client.post(f"/api/v1/accounts/{account_id}/reveal-password").json()
            assert (shown["username"], shown["password"]) == (username, password)
    assert sorted(r[1] for r in rows[1:]) == sorted([first, second])
    check_panel(page, shots, "account-batch-created")

    page.goto(f"/console/accounts?tenant={tenant['id']}&q=owner:carol*")
    page.locator("tbody a").first.click()
    account_url = page.url
    assert page.get_by_label("Enabled").is_checked()  # activated
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.type))
    page.get_by_label("Owner").click()
    page.get_by_label("Owner").fill("Carol W.")
    assert "changed" in (page.get_by_label("Owner").get_attribute("class") or "")
    page.get_by_role("link", name="Jobs").click()  # leaving with an unsaved change: asked
    page.wait_for_url("**/console/jobs")
    assert dialogs == ["beforeunload"]

    page.goto(account_url)
    ip = page.get_by_label("IP address or network")
    assert ip.is_hidden()  # password authentication: no address field
    page.get_by_role("radio", name="IP address").check()
    sync_api.expect(ip).to_be_visible()
    page.get_by_role("radio", name="Password").check()
    sync_api.expect(ip).to_be_hidden()
    page.get_by_label("Network of rule 1").fill("0.0.0.0/0.0.0.0")
    page.get_by_role("button", name="Add a rule").click()
    page.get_by_label("Action of rule 2").select_option("permit")
    page.get_by_label("Network of rule 2").fill("192.0.2.0/24")
    page.get_by_label("Owner").fill("Carol W.")
    check_panel(page, shots, "account")
    page.get_by_role("button", name="Save", exact=True).click()
    assert "Account saved" in page.get_by_role("status").inner_text()
    assert page.locator(".changed").count() == 0  # saved: no mark left
    account_id = int(account_url.rstrip("/").rsplit("/", 1)[1])
    with api(provedge) as client:
        stored = client.get(f"/api/v1/accounts/{account_id}").json()
        secret = client.post(f"/api/v1/accounts/{account_id}/reveal-password").json()
    assert stored["owner"] == "Carol W."
    assert stored["access_rules"] == [{"action": "deny", "network": "0.0.0.0/0"},
                                      {"action": "permit", "network": "192.0.2.0/24"}]  # fmt: skip
    page.get_by_role("button", name="Reveal password").click()
    sync_api.expect(page.locator("#revealed")).to_have_text(secret["password"])
    assert page.url.split("?")[0] == account_url  # revealed in place, on the account's page
    check_panel(page, shots, "password")
    assert dialogs == ["beforeunload"]  # nothing unsaved since


def test_tenant_change_shows_its_recompile_job(page: Any, provedge: Provedge, shots: Path) -> None:
    with api(provedge) as client:
        tenant = client.post(
            "/api/v1/tenants",
            json={"name": unique_name("job"), "realm": "j.example.com", "sip_server": "pbx.j.example.com"},
        ).json()  # fmt: skip
        csv = "mac,model\n" + "".join(f"{unique_mac()},polycom-vvx400\n" for _ in range(30))
        imported = client.post(
            "/api/v1/devices/import", params={"tenant": tenant["id"]}, content=csv,
            headers={"Content-Type": "text/csv"},
        )  # fmt: skip
        assert imported.status_code == 200, imported.text
    log_in(page, provedge.token)
    page.goto(f"/console/tenants/{tenant['id']}")
    check_panel(page, shots, "tenant")
    page.get_by_label("Time zone").fill("Europe/Berlin")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url("**/console/jobs/**")
    # The page refreshes its progress part by itself (console.js) until the job is done.
    sync_api.expect(page.locator(".job-state")).to_have_text("done", timeout=30_000)
    assert "30 of 30" in page.locator(".progress-box").inner_text()
    check_panel(page, shots, "job")
    page.goto("/console/jobs")
    check_panel(page, shots, "jobs")
    page.goto("/console/tenants")
    check_panel(page, shots, "tenants")

    # Every device of the list at once (by its filter, not a MAC list), confirmed with its count.
    page.goto(f"/console/devices?tenant={tenant['id']}&q=vvx")
    page.get_by_label("All 30 device(s) the list holds", exact=False).check()
    page.get_by_role("button", name="Reset provision counter").click()
    dialog = page.get_by_role("alertdialog")
    sync_api.expect(dialog).to_contain_text("Reset the provision counter of 30 device(s)?")
    dialog.get_by_role("button", name="Yes").click()
    sync_api.expect(page.get_by_role("status")).to_contain_text("30 provision counter(s) reset")
    page.goto(f"/console/devices?tenant={tenant['id']}&q=vvx")
    page.get_by_label("All 30 device(s) the list holds", exact=False).check()
    page.get_by_role("button", name="Re-sync selected").click()
    sync_api.expect(dialog).to_contain_text("Re-sync 30 device(s)?")
    dialog.get_by_label("Phones a second").fill("5")
    check_panel(page, shots, "devices-confirm")
    dialog.get_by_role("button", name="Yes").click()
    page.wait_for_url("**/console/jobs/**")
    sync_api.expect(page.locator(".progress-box")).to_contain_text("of 30")


def next_notified(phones: dict[str, Phone]) -> str:
    """The MAC of the phone whose NOTIFY comes next (bounded wait), whichever wave it is in."""
    ready, _, _ = select.select([p.sock for p in phones.values()], [], [], NOTIFY_WAIT_S)
    assert ready, "no NOTIFY came"
    return next(mac for mac, p in phones.items() if p.sock is ready[0])


@pytest.mark.skipif(shutil.which("sipp") is None, reason="sipp (sip-tester) is not installed")
def test_registered_clients_firewall_and_a_reboot(
    page: Any, provedge: Provedge, shots: Path
) -> None:
    from tests.test_firewall import edge_status, source, until
    from tests.test_reboot import UA, answer, device_with_line
    from tests.test_registrar import PASSWORD, make_account, make_tenant
    from tests.test_registrar_firewall import GUESSES, MAX_FAILURES, answered, ban_of, threshold
    from tests.test_sipp import sipp

    with api(provedge) as client:
        tenant, account, mac = device_with_line(client)
    done = sipp(provedge.sip_port, "register_once.xml", user=account["username"],
                password=PASSWORD, domain=tenant["sip_server"])  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:]
    log_in(page, provedge.token)
    page.goto(f"/console/registrations?tenant={tenant['id']}")
    sync_api.expect(page.get_by_role("cell", name="sipp-registrar-test")).to_be_visible()
    check_panel(page, shots, "registrations")

    # A password guesser, banned by its own wrong digests past a threshold lowered for it.
    guesser = source()
    phone = Phone(provedge.sip_port, account["username"], tenant["sip_server"], bind=guesser)
    try:
        with api(provedge) as client, threshold(client, provedge):
            refused = 0  # 401s, then silence: banned (bounded by GUESSES)
            while refused < GUESSES and (status := answered(phone, "not-the-password")):
                assert status == 401
                refused += 1
            assert status is None and refused >= MAX_FAILURES
            assert until(lambda: ban_of(client, guesser) is not None)
        page.goto("/console/firewall")
        sync_api.expect(page.get_by_role("row", name=f"{guesser} digest")).to_be_visible()
        check_panel(page, shots, "firewall")
        page.get_by_role("button", name=f"Lift the ban of {guesser}", exact=True).click()
        page.wait_for_url("**/console/firewall**")
        sync_api.expect(page.get_by_role("status")).to_contain_text("lifted")
        assert guesser not in page.locator("table").inner_text()
        assert until(lambda: answered(phone, PASSWORD) == 200)  # served again, SIP and HTTP
        assert edge_status(provedge, guesser) == 404
    finally:
        phone.close()

    page.goto(f"/console/devices/{mac}")
    sync_api.expect(page.get_by_role("cell", name="sipp-registrar-test")).to_be_visible()

    # A paced reboot of 3 registered phones from the list, one a second: each wave's phone
    # answers, fetches its file and registers anew, and the job page counts it as it goes.
    phones: dict[str, Phone] = {}
    try:
        with api(provedge) as client:
            fleet = make_tenant(client)
            for n in range(3):
                user = make_account(client, fleet, expires=600)
                made = client.post("/api/v1/extensions", json={"tenant": fleet["id"],
                                   "number": f"300{n}", "accounts": [user["username"]]})  # fmt: skip
                assert made.status_code == 201, made.text
                made = client.post("/api/v1/devices", json={"tenant": fleet["id"],
                                   "mac": unique_mac("001565"), "model": "yealink-t46s"})  # fmt: skip
                assert made.status_code == 201, made.text
                lines = client.put(f"/api/v1/devices/{made.json()['mac']}/lines",
                                   json=[{"extension": f"300{n}"}])  # fmt: skip
                assert lines.status_code == 200, lines.text
                phones[made.json()["mac"]] = Phone(
                    provedge.sip_port, user["username"], fleet["sip_server"]
                )
        assert [p.login(PASSWORD).status for p in phones.values()] == [200] * 3
        page.goto(f"/console/devices?tenant={fleet['id']}")
        for each in phones:
            page.get_by_label(f"Select {each}").check()
        page.get_by_role("button", name="Reboot selected").click()
        dialog = page.get_by_role("alertdialog")
        sync_api.expect(dialog).to_contain_text("Reboot 3 device(s)?")
        dialog.get_by_label("Phones a second").fill("1")
        dialog.get_by_role("button", name="Yes").click()
        page.wait_for_url("**/console/jobs/**")
        progress = page.locator(".progress-box")
        waiting = dict(phones)
        for n in range(1, 4):
            rebooted = next_notified(waiting)
            phone = waiting.pop(rebooted)
            answer(phone, phone.receive(), 200, [])
            url = str(fleet["provisioning_url"]) + f"{rebooted}.cfg"
            assert httpx.get(url, headers={"User-Agent": UA}, timeout=10).status_code == 200
            again = Phone(provedge.sip_port, phone.user, fleet["sip_server"])
            try:
                assert again.login(PASSWORD).status == 200  # a new Call-ID: it restarted
            finally:
                again.close()
            sync_api.expect(progress).to_contain_text(f"{n} of 3", timeout=JOB_WAIT_MS)
        sync_api.expect(page.locator(".job-state")).to_have_text("done", timeout=JOB_WAIT_MS)
        sync_api.expect(progress).to_contain_text("rebooted: 3")
        for each in phones:
            row = page.get_by_role("row", name=each)
            sync_api.expect(row.get_by_role("cell").nth(1)).to_have_text("rebooted")
        check_panel(page, shots, "reboot-job")
        job_id = page.url.split("/console/jobs/")[1].split("?")[0]
        with api(provedge) as client:
            items = client.get(f"/api/v1/jobs/{job_id}/results").json()["items"]
        assert sorted(i["wave"] for i in items) == [0, 1, 2]  # one phone a wave at 1/s
    finally:
        for phone in phones.values():
            phone.close()


def test_template_upload_error_fix_preview_and_the_audit_trail(
    page: Any, provedge: Provedge, shots: Path
) -> None:
    with api(provedge) as client:
        tenant = client.post(
            "/api/v1/tenants",
            json={"name": unique_name("tpl"), "realm": "t.example.com", "sip_server": "pbx.t.example.com"},
        ).json()  # fmt: skip
        mac = unique_mac()
        made = client.post(
            "/api/v1/devices", json={"tenant": tenant["id"], "mac": mac, "model": "yealink-t46s"}
        )
        assert made.status_code == 201, made.text
    log_in(page, provedge.token)
    page.goto("/console/templates")
    check_panel(page, shots, "templates")
    page.get_by_label("Tenant", exact=True).select_option(str(tenant["id"]))
    page.get_by_label("Name", exact=True).fill("front desk")
    page.get_by_label("File, as shipped").fill("mac.cfg")
    page.get_by_label("Source").fill("#!version:1.0.0.1\ndesk.who = ${device.mcc}\n")
    page.get_by_role("button", name="Check and store").click()
    sync_api.expect(page.get_by_role("alert")).to_contain_text("line 2")
    page.get_by_label("Source").fill("#!version:1.0.0.1\ndesk.who = ${device.mac}\n")
    page.get_by_role("button", name="Check and store").click()
    page.wait_for_url("**/console/templates/**")
    page.get_by_label("Device MAC").fill(mac)
    page.get_by_label("File as the phone asks for it").fill(f"{mac}.cfg")
    page.get_by_role("button", name="Preview").click()
    sync_api.expect(page.locator("pre.preview")).to_contain_text(f"desk.who = {mac}")
    check_panel(page, shots, "template")
    page.goto("/console/audit")
    sync_api.expect(page.get_by_role("cell", name=f"device/{mac}").first).to_be_visible()
    page.goto(f"/console/audit?object=device/{mac}")  # one object's trail: a picture that reads
    sync_api.expect(page.get_by_role("cell", name=f"device/{mac}").first).to_be_visible()
    check_panel(page, shots, "audit")


def test_the_login_page_and_its_refusal(page: Any, shots: Path) -> None:
    page.goto("/console/login")
    check_panel(page, shots, "login")
    page.get_by_label("API token").fill("pe_not-a-token")
    page.get_by_role("button", name="Log in").click()
    sync_api.expect(page.get_by_role("alert")).to_be_visible()
    assert "/console/login" in page.url
    check_panel(page, shots, "login-refused")
