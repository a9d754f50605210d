"""SIP device accounts: access rules, fields and rules, edits that republish exactly the
devices carrying the account, and the registrar record read back from a real LMDB."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from control.api.bodies import validate
from control.api.schemas import (
    AccountBatchIn,
    AccountIn,
    AccountPatch,
    DeviceIn,
    ExtensionIn,
    TenantIn,
    batch_usernames,
)
from control.domain.errors import ServiceError
from control.publish.publisher import LmdbPublisher
from control.service import Control
from control.wiring import build_control
from provedge.formats import accounts as fmt
from tests.test_service import EDGE, spy_compiles

# ---- the shared format: networks and access rules ------------------------------------------


@pytest.mark.parametrize(
    "given, cidr",
    [
        ("216.27.242.66/255.255.255.255", "216.27.242.66/32"),
        ("216.27.242.66/32", "216.27.242.66/32"),
        ("0.0.0.0/0.0.0.0", "0.0.0.0/0"),
        ("10.1.2.3/255.255.0.0", "10.1.0.0/16"),
        ("192.0.2.7", "192.0.2.7/32"),
        ("2001:db8::1/64", "2001:db8::/64"),
        ("2001:DB8::1", "2001:db8::1/128"),
    ],
)
def test_networks_are_normalised_to_cidr(given: str, cidr: str) -> None:
    assert fmt.parse_network(given) == cidr


@pytest.mark.parametrize(
    "bad",
    ["255.0.255.0", "10.0.0.0/255.0.255.0", "10.0.0.0/0.0.0.255", "10.0.0.0/33",
     "10.0.0/8", "2001:db8::/129", "2001:db8::/ffff::", "pbx.example.com/32", "", "10.0.0.0/x"],
)  # fmt: skip
def test_a_malformed_network_or_a_non_contiguous_netmask_is_refused(bad: str) -> None:
    with pytest.raises(fmt.BadNetwork):
        fmt.parse_network("10.0.0.1/" + bad if bad == "255.0.255.0" else bad)


def test_the_manuals_example_admits_one_address_only() -> None:
    rules = [
        ("deny", fmt.parse_network("0.0.0.0/0.0.0.0")),
        ("permit", fmt.parse_network("216.27.242.66/255.255.255.255")),
    ]
    assert fmt.access_allows(rules, "216.27.242.66")
    assert fmt.access_allows(rules, "::ffff:216.27.242.66")  # a dual-stack socket's form
    assert not fmt.access_allows(rules, "216.27.242.67")
    assert not fmt.access_allows(rules, "8.8.8.8")


def test_the_last_matching_rule_decides_and_no_match_permits() -> None:
    assert fmt.access_allows([], "192.0.2.1")
    rules = [("permit", "10.0.0.0/8"), ("deny", "10.1.0.0/16")]
    assert fmt.access_allows(rules, "10.2.0.1")
    assert not fmt.access_allows(rules, "10.1.0.1")
    assert fmt.access_allows(rules, "192.0.2.1")  # no rule matches
    assert fmt.access_allows([("deny", "2001:db8::/32")], "192.0.2.1")  # other family
    assert not fmt.access_allows([("deny", "2001:db8::/32")], "2001:db8::5")


# ---- request models: each bad field named ---------------------------------------------------


def _errors(kind: object, data: dict[str, object]) -> dict[str, str]:
    with pytest.raises(ServiceError) as caught:
        validate(kind, data)
    assert caught.value.status == 422
    return caught.value.errors


def test_ip_auth_needs_ip_and_password_auth_refuses_it() -> None:
    assert set(_errors(AccountIn, {"tenant": 1, "auth_method": "ip"})) == {"ip"}
    assert set(_errors(AccountIn, {"tenant": 1, "ip": "192.0.2.1"})) == {"ip"}
    body = validate(AccountIn, {"tenant": 1, "auth_method": "ip", "ip": "192.0.2.0/255.255.255.0"})
    assert body.ip == "192.0.2.0/24"


def test_a_bad_access_rule_names_its_index() -> None:
    rules = [
        {"action": "deny", "network": "0.0.0.0/0.0.0.0"},
        {"action": "permit", "network": "216.27.242.66/255.0.255.255"},
        {"action": "permit", "network": "300.1.1.1/32"},
        {"action": "allow", "network": "10.0.0.0/8"},
    ]
    errors = _errors(AccountIn, {"tenant": 1, "access_rules": rules})
    assert set(errors) == {
        "access_rules[1].network",
        "access_rules[2].network",
        "access_rules[3].action",
    }
    assert "not contiguous" in errors["access_rules[1].network"]


@pytest.mark.parametrize(
    "field, value",
    [("expires", 59), ("expires", 3601), ("invite_format", "sip"), ("email", "no-at"),
     ("outbound_flags", ["has space"]), ("caller_id_number", "12a"), ("realm", "bad realm")],
)  # fmt: skip
def test_fields_are_bounded(field: str, value: object) -> None:
    named = {field + "[0]" if isinstance(value, list) else field}
    assert set(_errors(AccountIn, {"tenant": 1, field: value})) == named
    assert set(_errors(AccountPatch, {field: value})) == named


# ---- the service over a real SQLite and LMDB ------------------------------------------------


@pytest.fixture
def ctl(tmp_path: Path) -> Iterator[Control]:
    control = build_control(tmp_path, EDGE)
    yield control
    control.close()


def _all_records(ctl: Control) -> dict[bytes, dict[str, object]]:
    """The account records in the LMDB the publisher wrote (its own environment: LMDB
    must not be opened twice in one process)."""
    assert isinstance(ctl.publisher, LmdbPublisher)
    env = ctl.publisher._env
    with env.begin(db=env.open_db(fmt.ACCOUNTS_DB)) as txn:
        return {bytes(k): fmt.decode_record(v) for k, v in txn.cursor().iternext()}


def _records(ctl: Control) -> dict[bytes, dict[str, object]]:
    """The records under their realm; each is also published under its tenant's SIP
    server, with the same value (test_a_renamed_account_moves_its_record checks both)."""
    return {
        key: record
        for key, record in _all_records(ctl).items()
        if key.startswith(f"{str(record['realm']).lower()}/".encode())
    }


def _tenant(ctl: Control, name: str = "t") -> int:
    tenant = ctl.create_tenant(TenantIn(name=name, realm="t.example", sip_server="pbx.t.example"))
    return int(tenant["id"])


def _device_with(ctl: Control, tenant: int, mac: str, number: str, username: str) -> str:
    ctl.create_extension(ExtensionIn(tenant=tenant, number=number, accounts=[username]))
    ctl.create_device(DeviceIn(tenant=tenant, mac=mac, model="yealink-t46s"))
    ctl.set_lines(mac, [number])
    return mac


def test_defaults_realm_from_the_tenant_and_the_record_in_lmdb(ctl: Control) -> None:
    tenant = _tenant(ctl)
    made = ctl.create_account(AccountIn(tenant=tenant, username="alice"))
    assert made["realm"] == "t.example" and made["expires"] == 360
    assert made["auth_method"] == "password" and made["invite_format"] == "username"
    assert made["enabled"] and made["published"] and len(made["password"]) == 20
    key = b"t.example/alice/" + str(made["id"]).encode()
    record = _records(ctl)[key]
    password = made["password"]
    assert record["ha1_md5"] == hashlib.md5(f"alice:t.example:{password}".encode()).hexdigest()
    assert (
        record["ha1_sha256"] == hashlib.sha256(f"alice:t.example:{password}".encode()).hexdigest()
    )
    assert record["enabled"] is True and record["tenant"] == tenant
    assert record["expires_min"] == 60 and record["expires_max"] == 360
    assert password not in str(record)  # no plaintext at the edge
    assert "password" not in ctl.get_account(made["id"])  # not in a plain read
    assert ctl.reveal_password(made["id"])["password"] == password


def test_routing_fields_reach_the_record_and_follow_a_change(ctl: Control) -> None:
    tenant = _tenant(ctl)
    made = ctl.create_account(
        AccountIn(
            tenant=tenant, username="route", invite_format="e164", outbound_flags=["carrier-b"],
            caller_id_name="Front Desk", caller_id_number="+4930123", secondary_number="+4930999",
        )
    )  # fmt: skip
    key = b"t.example/route/" + str(made["id"]).encode()
    record = _records(ctl)[key]
    assert (record["invite_format"], record["outbound_flags"]) == ("e164", ["carrier-b"])
    assert (record["caller_id_name"], record["caller_id_number"]) == ("Front Desk", "+4930123")
    assert record["secondary_number"] == "+4930999"
    ctl.update_account(made["id"], AccountPatch(invite_format="npan"))
    assert _records(ctl)[key]["invite_format"] == "npan"


def test_ip_auth_and_access_rules_reach_the_record(ctl: Control) -> None:
    tenant = _tenant(ctl)
    body = validate(
        AccountIn,
        {
            "tenant": tenant,
            "username": "trunk",
            "realm": "other.example",
            "auth_method": "ip",
            "ip": "198.51.100.7",
            "access_rules": [
                {"action": "deny", "network": "0.0.0.0/0.0.0.0"},
                {"action": "permit", "network": "216.27.242.66/255.255.255.255"},
            ],
        },
    )
    made = ctl.create_account(body)
    (record,) = _records(ctl).values()
    assert record["realm"] == "other.example" and record["auth_method"] == "ip"
    assert record["ip_networks"] == ["198.51.100.7/32"]
    assert record["access_rules"] == [
        {"action": "deny", "network": "0.0.0.0/0"},
        {"action": "permit", "network": "216.27.242.66/32"},
    ]
    assert made["access_rules"] == record["access_rules"]
    with pytest.raises(ServiceError) as caught:
        ctl.update_account(made["id"], AccountPatch(ip=None))
    assert caught.value.status == 422 and set(caught.value.errors) == {"ip"}
    switched = ctl.update_account(made["id"], AccountPatch(auth_method="password"))
    assert switched["changed"] == ["auth_method", "ip"] and switched["ip"] is None


def test_disable_republishes_exactly_the_devices_carrying_it(ctl: Control) -> None:
    tenant = _tenant(ctl)
    for name in ("a1", "a2"):
        ctl.create_account(AccountIn(tenant=tenant, username=name))
    first = ctl.list_accounts(tenant)["items"][0]
    mac = _device_with(ctl, tenant, "001565000010", "100", "a1")
    _device_with(ctl, tenant, "001565000011", "101", "a2")
    compiled = spy_compiles(ctl)
    done = ctl.update_account(first["id"], AccountPatch(enabled=False, email="a@b.example"))
    assert done["changed"] == ["email", "enabled"] and done["enabled"] is False
    assert compiled == [mac]
    key = f"t.example/a1/{first['id']}".encode()
    assert _records(ctl)[key]["enabled"] is False
    compiled.clear()
    ctl.update_account(first["id"], AccountPatch(description="lab phone"))  # not rendered
    assert compiled == []
    again = ctl.update_account(first["id"], AccountPatch(description="lab phone"))
    assert again["changed"] == []


def test_several_devices_warn_and_delete_needs_force(ctl: Control) -> None:
    tenant = _tenant(ctl)
    made = ctl.create_account(AccountIn(tenant=tenant, username="shared"))
    _device_with(ctl, tenant, "001565000020", "200", "shared")
    ctl.create_device(DeviceIn(tenant=tenant, mac="001565000021", model="yealink-t46s"))
    ctl.set_lines("001565000021", ["200"])
    view = ctl.get_account(made["id"])
    assert view["devices"] == ["001565000020", "001565000021"]
    assert "incoming calls will conflict" in view["warnings"][0]
    device = ctl.get_device("001565000021")
    assert device["warnings"] == [f"account shared is {view['warnings'][0]}"]
    with pytest.raises(ServiceError) as caught:
        ctl.delete_account(made["id"])
    assert caught.value.status == 409 and "001565000021" in caught.value.errors["devices"]
    compiled = spy_compiles(ctl)
    ctl.delete_account(made["id"], force=True)
    assert sorted(compiled) == ["001565000020", "001565000021"]
    assert _records(ctl) == {}
    with pytest.raises(ServiceError) as caught:
        ctl.get_account(made["id"])
    assert caught.value.status == 404


def test_a_tenant_admin_sees_only_its_accounts(ctl: Control) -> None:
    mine, other = _tenant(ctl, "mine"), _tenant(ctl, "other")
    theirs = ctl.create_account(AccountIn(tenant=other, username="x"))
    for call in (ctl.get_account, ctl.reveal_password):
        with pytest.raises(ServiceError) as caught:
            call(theirs["id"], mine)
        assert caught.value.status == 404


V1_ACCOUNTS = """
CREATE TABLE tenants (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, realm TEXT NOT NULL,
    sip_server TEXT NOT NULL, sip_port INTEGER NOT NULL DEFAULT 5060,
    sip_transport TEXT NOT NULL DEFAULT 'udp', timezone TEXT NOT NULL DEFAULT 'UTC',
    ntp_server TEXT NOT NULL DEFAULT 'pool.ntp.org', language TEXT NOT NULL DEFAULT 'English',
    url_key TEXT NOT NULL UNIQUE, rev INTEGER NOT NULL DEFAULT 1,
    published_rev INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')));
CREATE TABLE accounts (
    id           INTEGER PRIMARY KEY,
    tenant_id    INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    username     TEXT NOT NULL CHECK (length(username) BETWEEN 1 AND 64),
    password     TEXT NOT NULL CHECK (length(password) BETWEEN 8 AND 128),
    display_name TEXT NOT NULL DEFAULT '',
    expires      INTEGER NOT NULL DEFAULT 360 CHECK (expires BETWEEN 30 AND 86400),
    enabled      INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    UNIQUE (tenant_id, username));
CREATE TABLE extensions (id INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    number TEXT NOT NULL, display_name TEXT NOT NULL DEFAULT '', UNIQUE (tenant_id, number));
CREATE TABLE extension_accounts (
    extension_id INTEGER NOT NULL REFERENCES extensions(id) ON DELETE CASCADE,
    account_id   INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    position     INTEGER NOT NULL CHECK (position >= 1),
    PRIMARY KEY (extension_id, account_id), UNIQUE (extension_id, position));
INSERT INTO tenants (id, name, realm, sip_server, url_key) VALUES (1, 'old', 'old.example',
    'pbx.old.example', 'k');
INSERT INTO accounts (id, tenant_id, username, password, expires) VALUES
    (1, 1, 'bob', 'bobsecret', 30), (2, 1, 'carol', 'carolsecret', 7200);
INSERT INTO extensions (id, tenant_id, number) VALUES (1, 1, '100');
INSERT INTO extension_accounts VALUES (1, 1, 1);
"""


def test_an_older_accounts_table_is_migrated_in_place(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "provedge.sqlite3")
    conn.executescript(V1_ACCOUNTS)
    conn.close()
    ctl = build_control(tmp_path, EDGE)
    try:
        bob, carol = ctl.list_accounts(1)["items"]
        assert (bob["realm"], bob["expires"], carol["expires"]) == ("old.example", 60, 3600)
        assert bob["auth_method"] == "password" and not bob["published"]
        assert ctl.list_extensions(1)[0]["accounts"] == ["bob"]  # references kept
        ctl.publish_pending()
        assert len(_records(ctl)) == 2
        ctl.delete_account(bob["id"])  # the foreign keys cascade to the new table
        assert ctl.db.query("SELECT * FROM extension_accounts") == []
        assert ctl.db.query("PRAGMA foreign_key_check") == []
    finally:
        ctl.close()


def test_an_account_on_many_devices_is_republished_by_a_job(
    ctl: Control, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = _tenant(ctl)
    made = ctl.create_account(AccountIn(tenant=tenant, username="many"))
    _device_with(ctl, tenant, "001565000030", "300", "many")
    for n in (1, 2):
        ctl.create_device(DeviceIn(tenant=tenant, mac=f"00156500003{n}", model="yealink-t46s"))
        ctl.set_lines(f"00156500003{n}", ["300"])
    monkeypatch.setattr("control.service.PUBLISH_BATCH", 2)  # three devices: over a batch
    compiled = spy_compiles(ctl)
    done = ctl.update_account(made["id"], AccountPatch(enabled=False))
    assert done["job"] is not None and done["job"]["kind"] == "recompile"
    assert compiled == []  # not in the request
    ctl.jobs.run_until_idle()
    assert sorted(compiled) == ["001565000030", "001565000031", "001565000032"]


def test_the_wizard_link_enables_once_then_is_gone(ctl: Control) -> None:
    tenant = _tenant(ctl)
    made = ctl.create_account(AccountIn(tenant=tenant, username="wiz", activation=True))
    assert made["enabled"] is False and made["activation_token"]
    mac = _device_with(ctl, tenant, "001565000040", "400", "wiz")
    compiled = spy_compiles(ctl)
    answer = ctl.activate(made["activation_token"])
    assert answer["username"] == "wiz" and answer["password"] == made["password"]
    assert answer["realm"] == "t.example" and answer["sip_server"] == "pbx.t.example"
    assert str(answer["provisioning_url"]).startswith(EDGE + "/p/")
    assert ctl.get_account(made["id"])["enabled"] is True and compiled == [mac]
    key = f"t.example/wiz/{made['id']}".encode()
    assert _records(ctl)[key]["enabled"] is True
    ctl.update_account(made["id"], AccountPatch(enabled=False))
    with pytest.raises(ServiceError) as caught:
        ctl.activate(made["activation_token"])
    assert caught.value.status == 410 and "used" in caught.value.errors["token"]
    assert ctl.get_account(made["id"])["enabled"] is False  # a 410 changes nothing


def test_an_expired_or_replaced_link_changes_nothing(ctl: Control) -> None:
    tenant = _tenant(ctl)
    ctl.activation_lifetime_s = -1  # expired as soon as issued
    made = ctl.create_account(AccountIn(tenant=tenant, username="late", activation=True))
    with pytest.raises(ServiceError) as caught:
        ctl.activate(made["activation_token"])
    assert caught.value.status == 410 and "expired" in caught.value.errors["token"]
    assert ctl.get_account(made["id"])["enabled"] is False
    ctl.activation_lifetime_s = 3600
    first = ctl.issue_activation(made["id"])
    second = ctl.issue_activation(made["id"])
    with pytest.raises(ServiceError) as caught:
        ctl.activate(first["activation_token"])
    assert caught.value.status == 404  # replaced by the re-issue
    assert ctl.activate(second["activation_token"])["provisioning_url"] is None
    assert ctl.get_account(made["id"])["enabled"] is True


def test_a_batch_from_a_pattern_all_or_nothing(
    ctl: Control, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = _tenant(ctl)
    ctl.create_account(AccountIn(tenant=tenant, username="sales009"))
    body = validate(
        AccountBatchIn,
        {"tenant": tenant, "count": 3, "username_pattern": "sales{n:03}", "start": 8,
         "owner": "Sales", "expires": 120},
    )  # fmt: skip
    with pytest.raises(ServiceError) as caught:
        ctl.create_accounts(body)
    assert caught.value.status == 422
    assert caught.value.errors == {"rows[2].username": "sales009 exists in the tenant"}
    listed = ctl.list_accounts(tenant)["items"]
    assert [a["username"] for a in listed] == ["sales009"]  # nothing written
    body = validate(AccountBatchIn, {**body.model_dump(exclude_none=True), "start": 10})
    made = ctl.create_accounts(body)
    assert [r["username"] for r in made["items"]] == ["sales010", "sales011", "sales012"]
    assert made["job"] is None and all(len(r["password"]) == 20 for r in made["items"])
    listed = {a["username"]: a for a in ctl.list_accounts(tenant)["items"]}
    assert listed["sales011"]["owner"] == "Sales" and listed["sales011"]["expires"] == 120
    assert len(_records(ctl)) == 4
    monkeypatch.setattr("control.publish.pending.PUBLISH_BATCH", 2)  # many: a job publishes them
    more = ctl.create_accounts(validate(AccountBatchIn, {"tenant": tenant, "count": 3,
                                                         "username_pattern": "x{n}"}))  # fmt: skip
    assert more["job"] is not None and len(_records(ctl)) == 4
    ctl.jobs.run_until_idle()
    assert len(_records(ctl)) == 7


@pytest.mark.parametrize("pattern", ["sales", "a{n}{n}", "a{n:x}", "{n:0}"])
def test_a_batch_pattern_holds_n_once(pattern: str) -> None:
    errors = _errors(AccountBatchIn, {"tenant": 1, "count": 1, "username_pattern": pattern})
    assert set(errors) == {"username_pattern"}


def test_batch_usernames_pad_to_the_width() -> None:
    assert batch_usernames("s{n:03}x", 99, 3) == ["s099x", "s100x", "s101x"]
    assert batch_usernames("{n}", 0, 2) == ["0", "1"]


def test_a_renamed_account_moves_its_record(ctl: Control) -> None:
    tenant = _tenant(ctl)
    made = ctl.create_account(AccountIn(tenant=tenant, username="old"))
    mac = _device_with(ctl, tenant, "001565000050", "500", "old")
    compiled = spy_compiles(ctl)
    done = ctl.update_account(made["id"], AccountPatch(username="new", realm="r.example"))
    assert done["changed"] == ["realm", "username"] and compiled == [mac]
    # under the realm and under the tenant's SIP server; the old keys are gone
    assert set(_all_records(ctl)) == {
        f"r.example/new/{made['id']}".encode(),
        f"pbx.t.example/new/{made['id']}".encode(),
    }
    ctl.create_account(AccountIn(tenant=tenant, username="other"))
    with pytest.raises(ServiceError) as caught:
        ctl.update_account(made["id"], AccountPatch(username="other"))
    assert caught.value.status == 409 and set(caught.value.errors) == {"username"}
