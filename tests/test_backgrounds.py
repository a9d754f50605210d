"""Background images through a real `provedge run`: uploads refused for what they are,
chosen per device, each vendor family's wallpaper setting read back from the file the
edge serves, and the URL it names fetched from the edge as an image of the model's size."""

from __future__ import annotations

import io
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from PIL import Image

from control.api.schemas import DeviceIn, TenantIn
from control.domain.backgrounds import (
    MAX_BYTES,
    MAX_PIXELS,
    Variant,
    check_upload,
    render_all,
    variants,
)
from control.domain.catalog import MODELS
from control.publish.publisher import LmdbPublisher, Publication
from control.storage.db import DB_FILE
from control.wiring import build_control
from edge.http.app import EdgeApp
from provedge.formats import store
from tests.conftest import Provedge, unique_mac, unique_name
from tests.test_edgestate_writer import poll
from tests.vendorcheck import wallpaper_settings, yealink_settings


@pytest.fixture(scope="module")
def api(provedge: Provedge) -> Iterator[httpx.Client]:
    with provedge.api() as client:
        yield client


def _image(fmt: str, size: tuple[int, int] = (640, 400), mode: str = "RGB") -> bytes:
    """A picture with a left half red and a right half blue: a crop shows in the pixels."""
    image = Image.new(mode, size, "red")
    image.paste("blue", (size[0] // 2, 0, size[0], size[1]))
    out = io.BytesIO()
    image.save(out, format=fmt)
    return out.getvalue()


def _tenant(api: httpx.Client) -> dict[str, object]:
    made = api.post(
        "/api/v1/tenants",
        json={"name": unique_name("bg"), "realm": "bg.example.com", "sip_server": "pbx.bg"},
    )
    assert made.status_code == 201, made.text
    body: dict[str, object] = made.json()
    return body


def _upload(
    api: httpx.Client, tenant: object, data: bytes, ctype: str = "image/png", **query: str
) -> httpx.Response:
    return api.post(
        "/api/v1/backgrounds",
        params={**({} if tenant is None else {"tenant": str(tenant)}), **query},
        content=data,
        headers={"Content-Type": ctype},
    )


def _device(api: httpx.Client, tenant: object, model: str, **fields: object) -> str:
    mac = unique_mac()
    made = api.post("/api/v1/devices", json={"tenant": tenant, "mac": mac, "model": model,
                                              **fields})  # fmt: skip
    assert made.status_code == 201, made.text
    return mac


def _edge_file(provedge: Provedge, url: str, **headers: str) -> httpx.Response:
    """A URL from a rendered file, fetched from the edge the test runs."""
    return httpx.get(provedge.edge + urlsplit(url).path, headers=headers, timeout=10)


def _device_file(provedge: Provedge, api: httpx.Client, mac: str, suffix: str) -> bytes:
    device = api.get(f"/api/v1/devices/{mac}").json()
    name = next(n for n in device["files"] if n.endswith(suffix))
    got = _edge_file(provedge, device["provisioning_url"] + name)
    assert got.status_code == 200, got.text
    return got.content


def test_uploads_refused_for_what_they_are(api: httpx.Client) -> None:
    tenant = _tenant(api)["id"]
    cases = [
        (b"not an image at all", "image/png", 422, "body", "not a PNG or JPEG"),
        (_image("PNG"), "image/jpeg", 422, "body", "a PNG image sent as image/jpeg"),
        (_image("JPEG"), "image/png", 422, "body", "a JPEG image sent as image/png"),
        (_image("PNG"), "text/plain", 422, "content-type", "image/png or image/jpeg"),
        (_image("PNG")[:200], "image/png", 422, "body", "does not decode as PNG"),
        (b"\x89PNG" + bytes(MAX_BYTES), "image/png", 413, "body", "larger than the limit"),
        (_image("PNG", (4097, 4096), "1"), "image/png", 422, "body", f"{MAX_PIXELS} pixels"),
    ]
    for data, ctype, status, field, reason in cases:
        refused = _upload(api, tenant, data, ctype)
        assert refused.status_code == status, (ctype, refused.text)
        assert reason in refused.json()["errors"][field], refused.text
    assert api.get("/api/v1/backgrounds", params={"tenant": tenant}).json() == []  # nothing
    made = _upload(api, tenant, _image("PNG"), name="Logo")
    assert made.status_code == 201, made.text
    again = _upload(api, tenant, _image("PNG"))
    assert again.status_code == 409 and str(made.json()["id"]) in again.json()["errors"]["body"]
    unknown = api.get("/api/v1/backgrounds", params={"tenant": tenant, "size": "1"})
    assert unknown.status_code == 422 and "size" in unknown.json()["errors"]


# One model per vendor family that takes a background, the suffix of the file carrying
# the setting, and how to read the wallpaper URL (and the other settings) out of it.
FAMILIES = ["yealink-t46s", "polycom-vvx410", "cisco-spa525g", "grandstream-gxp2135",
            "snom-d785"]  # fmt: skip


_ON = {
    "yealink-t46s": lambda url: {"backgrounds": "Config:" + url.rpartition("/")[2]},
    "polycom-vvx410": lambda url: {"selection": "2,1", "enabled": "1"},
    "cisco-spa525g": lambda url: {"select": "BMP Picture"},
    "grandstream-gxp2135": lambda url: {"source": "1"},
    "snom-d785": lambda url: {},
}
_OFF = {
    "yealink-t46s": {"backgrounds": ""},
    "polycom-vvx410": {"selection": "1,1", "enabled": "0"},
    "cisco-spa525g": {"select": "None"},
    "grandstream-gxp2135": {"source": "0"},
    "snom-d785": {},
}
_FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG", "image/bmp": "BMP"}


def _suffix(model: str, mac: str) -> str:
    return {"polycom": "-user.cfg", "snom": f"{mac.upper()}.xml", "grandstream": f"{mac}.xml",
            "cisco-spa": f"{mac}.xml"}.get(MODELS[model].vendor.id, f"{mac}.cfg")  # fmt: skip


@pytest.mark.parametrize("model", FAMILIES)
def test_each_family_points_its_wallpaper_at_an_image_the_edge_serves(
    provedge: Provedge, api: httpx.Client, model: str
) -> None:
    tenant = _tenant(api)["id"]
    background = _upload(api, tenant, _image("JPEG"), "image/jpeg").json()
    mac = _device(api, tenant, model, background=background["id"])
    url, settings = wallpaper_settings(
        MODELS[model].vendor.id, _device_file(provedge, api, mac, _suffix(model, mac))
    )
    assert url and settings == _ON[model](url)
    assert api.get(f"/api/v1/devices/{mac}").json()["background_url"] == url
    got = _edge_file(provedge, url)
    assert got.status_code == 200
    screen, vendor = MODELS[model].screen, MODELS[model].vendor
    assert screen is not None and vendor.wallpaper is not None
    assert got.headers["content-type"] == {"png": "image/png", "jpeg": "image/jpeg",
                                           "bmp": "image/bmp"}[vendor.wallpaper]  # fmt: skip
    with Image.open(io.BytesIO(got.content)) as image:
        assert image.format == _FORMATS[got.headers["content-type"]]
        assert image.size == (screen.width, screen.height)
        rgb = image.convert("RGB")
        # cover-crop of a wider picture: red on the left, blue on the right, no bars
        assert rgb.getpixel((2, screen.height // 2)) == pytest.approx((255, 0, 0), abs=40)
        assert rgb.getpixel((screen.width - 3, 2)) == pytest.approx((0, 0, 255), abs=40)
    listed = next(f for f in background["files"] if f["url"] == url)
    assert model in listed["models"]
    # the ETag of a published file: a phone asking again gets 304
    again = _edge_file(provedge, url, **{"If-None-Match": got.headers["etag"]})
    assert again.status_code == 304
    # cleared: the setting goes back to the vendor's default and the URL is empty
    cleared = api.patch(f"/api/v1/devices/{mac}", json={"background": None})
    assert cleared.status_code == 200 and cleared.json()["background"] is None
    url, settings = wallpaper_settings(
        MODELS[model].vendor.id, _device_file(provedge, api, mac, _suffix(model, mac))
    )
    assert (url, settings) == ("", _OFF[model])


@pytest.mark.parametrize(
    "model", ["cisco-spa508g", "cisco-cp8841", "cisco-cp8865", "polycom-spip550",
              "yealink-w52p", "snom-d345", "fanvil-x4u"],
)  # fmt: skip
def test_a_model_without_a_screen_for_it_is_refused(api: httpx.Client, model: str) -> None:
    tenant = _tenant(api)["id"]
    background = _upload(api, tenant, _image("PNG")).json()["id"]
    mac = unique_mac()
    body = {"tenant": tenant, "mac": mac, "model": model, "background": background}
    refused = api.post("/api/v1/devices", json=body)
    assert refused.status_code == 422 and "background" in refused.json()["errors"], refused.text
    assert api.get(f"/api/v1/devices/{mac}").status_code == 404  # nothing written
    mac = _device(api, tenant, model)
    patched = api.patch(f"/api/v1/devices/{mac}", json={"background": background})
    assert patched.status_code == 422 and "background" in patched.json()["errors"]
    # a Yealink showing it cannot become this model unless it drops the background
    yealink = _device(api, tenant, "yealink-t46s", background=background)
    moved = api.patch(f"/api/v1/devices/{yealink}", json={"model": model})
    assert moved.status_code == 422 and "model" in moved.json()["errors"]
    both = api.patch(f"/api/v1/devices/{yealink}", json={"model": model, "background": None})
    assert both.status_code == 200 and both.json()["model"] == model


def test_background_url_is_refused_naming_its_successor(api: httpx.Client) -> None:
    tenant = _tenant(api)["id"]
    body = {"tenant": tenant, "mac": unique_mac(), "model": "yealink-t46s",
            "background_url": "http://img.example/bg.png"}  # fmt: skip
    refused = api.post("/api/v1/devices", json=body)
    assert refused.status_code == 422
    assert "background" in refused.json()["errors"]["background_url"]
    mac = _device(api, tenant, "yealink-t46s")
    patched = api.patch(f"/api/v1/devices/{mac}", json={"background_url": ""})
    assert patched.status_code == 422 and "background_url" in patched.json()["errors"]


def test_delete_is_refused_while_devices_show_it_unless_forced(
    provedge: Provedge, api: httpx.Client
) -> None:
    tenant = _tenant(api)["id"]
    background = _upload(api, tenant, _image("PNG")).json()
    mac = _device(api, tenant, "snom-d785", background=background["id"])
    url = api.get(f"/api/v1/devices/{mac}").json()["background_url"]
    assert _edge_file(provedge, url).status_code == 200
    assert api.get(f"/api/v1/backgrounds/{background['id']}").json()["devices"] == 1
    refused = api.delete(f"/api/v1/backgrounds/{background['id']}")
    assert refused.status_code == 409 and mac in refused.json()["errors"]["devices"]
    assert _edge_file(provedge, url).status_code == 200  # nothing changed
    forced = api.delete(f"/api/v1/backgrounds/{background['id']}", params={"force": "true"})
    assert forced.status_code == 204
    assert api.get(f"/api/v1/devices/{mac}").json()["background"] is None
    found, _ = wallpaper_settings("snom", _device_file(provedge, api, mac, f"{mac.upper()}.xml"))
    assert found == ""
    assert _edge_file(provedge, url).status_code == 404  # its files are withdrawn
    assert api.get(f"/api/v1/backgrounds/{background['id']}").status_code == 404
    # the trail: its upload and delete, and the device's choice cleared
    trail = api.get("/api/v1/audit", params={"object": f"background/{background['id']}"})
    assert [e["action"] for e in trail.json()["items"]] == ["delete", "create"]
    assert trail.json()["items"][1]["after"]["sha256"] == background["sha256"]
    assert "image" not in trail.json()["items"][1]["after"]
    device_trail = api.get("/api/v1/audit", params={"object": f"device/{mac}"}).json()["items"]
    assert any(
        e["before"] and e["before"].get("background_id") == background["id"]
        and e["after"]["background_id"] is None for e in device_trail
    )  # fmt: skip


def _token(api: httpx.Client, **body: object) -> httpx.Client:
    made = api.post("/api/v1/tokens", json=body)
    assert made.status_code == 201, made.text
    return httpx.Client(
        base_url=str(api.base_url),
        headers={"Authorization": f"Bearer {made.json()['token']}"},
        timeout=10,
    )


def test_another_tenants_admin_gets_404(api: httpx.Client) -> None:
    ours, theirs = _tenant(api), _tenant(api)
    background = _upload(api, ours["id"], _image("PNG")).json()["id"]
    with _token(api, role="tenant_admin", tenant=theirs["id"]) as admin:
        assert admin.get(f"/api/v1/backgrounds/{background}").status_code == 404
        assert admin.delete(f"/api/v1/backgrounds/{background}").status_code == 404
        listed = admin.get("/api/v1/backgrounds", params={"tenant": ours["id"]})
        assert listed.status_code == 404
        assert admin.get("/api/v1/backgrounds").json() == []  # its own: none
        upload = _upload(admin, ours["id"], _image("PNG", (300, 300)))
        assert upload.status_code == 404
        own = _upload(admin, None, _image("PNG", (320, 320)))  # its own tenant by default
        assert own.status_code == 201 and own.json()["tenant"] == theirs["id"]
        mac = _device(admin, theirs["id"], "yealink-t46s")
        chosen = admin.patch(f"/api/v1/devices/{mac}", json={"background": background})
        assert chosen.status_code == 404 and "background" in chosen.json()["errors"]
    with _token(api, role="tenant_admin", tenant=ours["id"]) as admin:
        assert admin.get(f"/api/v1/backgrounds/{background}").status_code == 200


def test_an_end_user_chooses_among_its_tenants_backgrounds(
    provedge: Provedge, api: httpx.Client
) -> None:
    tenant, other = _tenant(api), _tenant(api)
    ours = _upload(api, tenant["id"], _image("PNG")).json()["id"]
    foreign = _upload(api, other["id"], _image("PNG")).json()["id"]
    username = unique_name("me")
    made = api.post("/api/v1/accounts", json={"tenant": tenant["id"], "username": username})
    assert made.status_code == 201, made.text
    number = str(4000 + int(made.json()["id"]) % 5000)
    extension = {"tenant": tenant["id"], "number": number, "accounts": [username]}
    assert api.post("/api/v1/extensions", json=extension).status_code == 201
    mac = _device(api, tenant["id"], "yealink-t46s")
    assert api.put(f"/api/v1/devices/{mac}/lines", json=[{"extension": number}]).status_code == 200
    with _token(api, role="end_user", tenant=tenant["id"], account=username) as me:
        chosen = me.patch(f"/api/v1/me/devices/{mac}", json={"background": ours})
        assert chosen.status_code == 200 and chosen.json()["background"] == ours
        url, _ = wallpaper_settings("yealink", _device_file(provedge, api, mac, f"{mac}.cfg"))
        assert url and _edge_file(provedge, url).status_code == 200
        refused = me.patch(f"/api/v1/me/devices/{mac}", json={"background": foreign})
        assert refused.status_code == 404 and "background" in refused.json()["errors"]
        assert me.get("/api/v1/backgrounds").status_code == 403
        cleared = me.patch(f"/api/v1/me/devices/{mac}", json={"background": None})
        assert cleared.status_code == 200 and cleared.json()["background"] is None
    assert api.get(f"/api/v1/devices/{mac}").json()["background"] is None
    trail = api.get("/api/v1/audit", params={"object": f"device/{mac}"}).json()["items"]
    choices = [e for e in trail if e["action"] == "update" and "background_id" in e["changed"]]
    assert [e["actor"]["role"] for e in choices] == ["end_user", "end_user"]
    assert [e["after"]["background_id"] for e in choices] == [None, ours]  # newest first


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "provedge.cli", "backgrounds", *args],
        check=False, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_the_cli_uploads_lists_and_deletes(
    provedge: Provedge, api: httpx.Client, tmp_path: Path
) -> None:
    tenant = _tenant(api)
    data = ("--data", str(provedge.data))
    picture = tmp_path / "logo.jpg"
    picture.write_bytes(_image("JPEG", (500, 500)))
    done = _cli("upload", str(picture), "--tenant", str(tenant["name"]), "--name", "Logo",
                "--timeout", "30", *data)  # fmt: skip
    assert done.returncode == 0, done.stderr
    background_id = int(done.stdout.split()[1].rstrip(":"))
    view = api.get(f"/api/v1/backgrounds/{background_id}").json()
    assert view["published"] and view["name"] == "Logo"
    assert _edge_file(provedge, view["files"][0]["url"]).status_code == 200
    listed = _cli("list", "--tenant", str(tenant["id"]), *data)
    assert listed.returncode == 0 and "Logo\t500x500\timage/jpeg" in listed.stdout
    fake = tmp_path / "fake.png"
    fake.write_bytes(b"GIF89a not a png")
    bad = _cli("upload", str(fake), "--tenant", str(tenant["id"]), *data)
    assert bad.returncode == 2 and "not a PNG or JPEG" in bad.stderr
    gif = _cli("upload", str(tmp_path / "x.gif"), "--tenant", str(tenant["id"]), *data)
    assert gif.returncode == 2 and ".png" in gif.stderr
    mac = _device(api, tenant["id"], "yealink-t46g", background=background_id)
    refused = _cli("delete", str(background_id), *data)
    assert refused.returncode == 1 and mac in refused.stderr
    deleted = _cli("delete", str(background_id), "--force", *data)
    assert deleted.returncode == 0, deleted.stderr
    assert api.get(f"/api/v1/backgrounds/{background_id}").status_code == 404
    assert api.get(f"/api/v1/devices/{mac}").json()["background"] is None


def test_a_background_counts_into_no_provision_counter_or_limit(
    provedge: Provedge, api: httpx.Client
) -> None:
    made = api.post(
        "/api/v1/tenants",
        json={"name": unique_name("bgl"), "realm": "l.example.com", "sip_server": "pbx.l",
              "provision_limit": 2},
    )  # fmt: skip
    tenant = made.json()
    background = _upload(api, tenant["id"], _image("PNG")).json()["id"]
    mac = _device(api, tenant["id"], "yealink-t46s", background=background)
    own = str(tenant["provisioning_url"]) + f"{mac}.cfg"
    close = {"Connection": "close"}
    assert httpx.get(own, headers=close).status_code == 200
    _count_at_least(api, mac, 1)
    url = api.get(f"/api/v1/devices/{mac}").json()["background_url"]
    for _ in range(3):
        assert _edge_file(provedge, url, **close).status_code == 200
    # Fetches are counted in order: once the second own fetch shows, any background fetch
    # before it would have too.
    assert httpx.get(own, headers=close).status_code == 200
    assert _count_at_least(api, mac, 2)["provision_count"] == 2
    assert httpx.get(own, headers=close).status_code == 404  # its limit reached
    assert _edge_file(provedge, url, **close).status_code == 200  # the tenant's file is not


def _count_at_least(api: httpx.Client, mac: str, count: int) -> dict[str, object]:
    found: dict[str, object] = poll(
        lambda: api.get(f"/api/v1/devices/{mac}").json(),
        lambda view: view["provision_count"] >= count,
        f"provision_count {count}",
    )
    return found


def test_a_missed_background_is_a_scan_only_under_an_unknown_tenant_key(tmp_path: Path) -> None:
    """The edge's scan rule over a real LMDB: a phone asking for a background that was
    deleted is not probing; a name under a key no tenant has is."""
    env = store.open_env(tmp_path)
    LmdbPublisher(env).publish(
        [Publication("tenant/1", {store.blob_key("k1", "cfg.xml"): store.encode_blob("x", b"")})]
    )
    edge = EdgeApp(env)
    name = "bg/0123456789abcdef-480x272.png"
    assert edge.lookup(f"/p/k1/{name}") is None
    assert not edge.is_scan(f"/p/k1/{name}")
    assert edge.is_scan(f"/p/nokey/{name}")
    assert edge.is_scan("/p/k1/bg/../../etc/passwd")
    env.close()


def test_a_database_with_background_urls_gets_the_choice_column(tmp_path: Path) -> None:
    """A store made when devices had a free background_url: the column stays, unused, and
    its devices show no background until one is chosen (docs/models.md)."""
    old = sqlite3.connect(tmp_path / DB_FILE)
    old.executescript(
        "CREATE TABLE devices (mac TEXT PRIMARY KEY, tenant_id INTEGER NOT NULL, model TEXT"
        " NOT NULL, name TEXT NOT NULL DEFAULT '', admin_password TEXT NOT NULL,"
        " background_url TEXT NOT NULL DEFAULT '', hotdesk_pin TEXT NOT NULL DEFAULT '',"
        " rev INTEGER NOT NULL DEFAULT 1, published_rev INTEGER NOT NULL DEFAULT 0,"
        " created_at TEXT NOT NULL DEFAULT '2026-01-01T00:00:00Z');"
        "CREATE TABLE tenants (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, realm TEXT"
        " NOT NULL, sip_server TEXT NOT NULL, sip_port INTEGER NOT NULL DEFAULT 5060,"
        " sip_transport TEXT NOT NULL DEFAULT 'udp', timezone TEXT NOT NULL DEFAULT 'UTC',"
        " ntp_server TEXT NOT NULL DEFAULT 'pool.ntp.org', language TEXT NOT NULL DEFAULT"
        " 'English', url_key TEXT NOT NULL UNIQUE, rev INTEGER NOT NULL DEFAULT 1,"
        " published_rev INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL DEFAULT '');"
        "INSERT INTO tenants (name, realm, sip_server, url_key) VALUES ('old', 'o', 'p', 'k');"
        "CREATE TABLE device_lines (mac TEXT NOT NULL, position INTEGER NOT NULL,"
        " extension_id INTEGER NOT NULL, PRIMARY KEY (mac, position));"
        "INSERT INTO devices (mac, tenant_id, model, admin_password, background_url)"
        " VALUES ('001565aabbcc', 1, 'yealink-t46s', 'x', 'http://img.example/bg.png');"
    )
    old.close()
    ctl = build_control(tmp_path, "http://127.0.0.1:9")
    try:
        device = ctl.get_device("001565aabbcc")
        assert (device["background"], device["background_url"]) == (None, "")
        ctl.publish_pending()
        body = ctl.preview("001565aabbcc", "001565aabbcc.cfg", None)["body"]
        assert yealink_settings(body.encode())["wallpaper_upload.url"] == ""
    finally:
        ctl.close()


def test_scaling_turns_by_exif_flattens_transparency_and_repeats_itself() -> None:
    """control/domain/backgrounds.py on its own: what a phone would show wrong otherwise."""
    wide = Variant(480, 272, "png")
    turned = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: shown turned 90 degrees clockwise
    Image.open(io.BytesIO(_image("JPEG", (400, 200)))).save(turned, "JPEG", exif=exif)
    with Image.open(io.BytesIO(render_all(turned.getvalue(), [wide])[wide])) as shown:
        rgb = shown.convert("RGB")
        # the left (red) half of the stored picture is the top of the shown one
        assert rgb.getpixel((240, 2)) == pytest.approx((255, 0, 0), abs=40)
        assert rgb.getpixel((240, 269)) == pytest.approx((0, 0, 255), abs=40)
    clear = _image("PNG", (64, 64), "RGBA")
    see_through = io.BytesIO()
    Image.new("RGBA", (64, 64), (255, 255, 255, 0)).save(see_through, "PNG")
    for variant in variants():
        body = render_all(see_through.getvalue(), [variant])[variant]
        with Image.open(io.BytesIO(body)) as flat:
            assert flat.mode == "RGB" and flat.getpixel((5, 5)) == (0, 0, 0)
        assert render_all(see_through.getvalue(), [variant])[variant] == body  # same bytes
    assert check_upload(clear, "image/png") == (64, 64)


def test_an_image_that_no_longer_scales_stops_no_other_publish(tmp_path: Path) -> None:
    """A stored image Pillow cannot open (only a store edited by hand, or a Pillow that
    changed, has one) is reported and marked; the step goes on with the devices."""
    ctl = build_control(tmp_path, "http://127.0.0.1:9")
    try:
        tenant = ctl.create_tenant(TenantIn(name="t", realm="t.example", sip_server="pbx.t"))
        with ctl.db.transaction() as conn:
            conn.execute(
                "INSERT INTO backgrounds (tenant_id, name, sha256, content_type, width, height,"
                " size, image) VALUES (?, 'bad', ?, 'image/png', 1, 1, 3, x'000102')",
                (tenant["id"], "0" * 64),
            )
        step = ctl.publishing.step(macs=[])
        assert step.errors and step.errors[0][0].startswith("background/")
        made = ctl.create_device(DeviceIn(tenant=tenant["id"], mac="001565aabbcd",
                                          model="yealink-t46s"))  # fmt: skip
        assert made["published"]
        assert ctl.publishing.pending() == 0  # marked: no step tries it again
    finally:
        ctl.close()


def test_under_device_credentials_the_image_is_the_tenants_file_in_its_directory(
    provedge: Provedge, api: httpx.Client
) -> None:
    """The phone fetches from the authenticated directory; its background sits there as
    a tenant's file (docs/delivery.md), served without the device's credentials."""
    made = api.post(
        "/api/v1/tenants",
        json={"name": unique_name("bgd"), "realm": "d.example.com", "sip_server": "pbx.d",
              "delivery_policy": "device_credentials"},
    )  # fmt: skip
    assert made.status_code == 201, made.text
    tenant = made.json()
    background = _upload(api, tenant["id"], _image("PNG")).json()
    mac = _device(api, tenant["id"], "yealink-t54w", background=background["id"])
    preview = api.get(f"/api/v1/devices/{mac}/preview/{mac}.cfg")
    url, settings = wallpaper_settings("yealink", preview.json()["body"].encode())
    assert "/auth/bg/" in url and settings == {"backgrounds": "Config:" + url.rpartition("/")[2]}
    assert api.get(f"/api/v1/devices/{mac}").json()["background_url"] == url
    assert url in [f["url"] for f in background["files"]]
    got = _edge_file(provedge, url)
    assert got.status_code == 200 and got.headers["content-type"] == "image/png"
    with Image.open(io.BytesIO(got.content)) as image:
        assert image.size == (480, 272)
