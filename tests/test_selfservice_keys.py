"""An end user sets the BLF keys of a device of theirs, with the operator's checks, and
they reach the phone's file; another tenant's extension or a device not theirs is refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from control.api.app import create_app
from control.api.auth import create_token
from control.api.schemas import AccountIn, DeviceIn, ExtensionIn, TenantIn
from control.service import Control
from control.wiring import build_control


@pytest.fixture
def ctl(tmp_path: Path) -> Iterator[Control]:
    control = build_control(tmp_path, "http://127.0.0.1:9")
    yield control
    control.close()


def test_an_end_user_sets_the_blf_keys_of_its_device(ctl: Control) -> None:
    tenant = ctl.create_tenant(TenantIn(name="self", realm="s.example", sip_server="pbx.s"))
    for n in (1, 2):
        ctl.create_account(AccountIn(tenant=tenant["id"], username=f"me{n}"))
        ctl.create_extension(ExtensionIn(tenant=tenant["id"], number=f"30{n}", accounts=[f"me{n}"]))
    mine, theirs = "001565000c01", "001565000c02"
    for mac, line in ((mine, "301"), (theirs, "302")):
        ctl.create_device(DeviceIn(tenant=tenant["id"], mac=mac, model="yealink-t46s"))
        ctl.set_lines(mac, [line])
    token = create_token(ctl.db, "end_user", int(tenant["id"]), account="me1")
    api = TestClient(create_app(ctl))
    auth = {"Authorization": f"Bearer {token}"}
    keys = [{"type": "blf", "extension": "302", "label": "Colleague"}]
    changed = api.patch(f"/api/v1/me/devices/{mine}", headers=auth, json={"keys": keys})
    assert changed.status_code == 200, changed.text
    assert changed.json()["keys"] == [{"position": 1, "type": "blf", "extension": "302",
                                        "label": "Colleague"}]  # fmt: skip
    ctl.publish_pending()
    body = ctl.preview(mine, f"{mine}.cfg", None)["body"]
    assert "linekey.2.type = 16" in body and "linekey.2.label = Colleague" in body
    unknown = api.patch(f"/api/v1/me/devices/{mine}", headers=auth,
                        json={"keys": [{"type": "blf", "extension": "999"}]})  # fmt: skip
    assert unknown.status_code == 422 and "keys[0].extension" in unknown.json()["errors"]
    not_mine = api.patch(f"/api/v1/me/devices/{theirs}", headers=auth, json={"keys": keys})
    assert not_mine.status_code == 404
    assert ctl.get_device(theirs)["keys"] == []
