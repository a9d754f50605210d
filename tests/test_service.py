"""Control-plane behaviour that needs no server: restart recovery and touched-only recompiles."""

from __future__ import annotations

import shutil
from pathlib import Path

from control.api.schemas import AccountIn, DeviceIn, ExtensionIn, TenantIn, TenantPatch
from control.publish.compiler import DEFAULT_TEMPLATES, Compiler
from control.publish.pending import templates_fingerprint
from control.service import Control
from control.wiring import build_control
from provedge.formats import store

EDGE = "http://edge.example:8081"


def _blobs(data: Path) -> dict[bytes, bytes]:
    env = store.open_env(data)
    try:
        with env.begin(db=env.open_db(store.BLOBS_DB)) as txn:
            return dict(txn.cursor().iternext())
    finally:
        env.close()


def _fleet(ctl: Control) -> tuple[dict[str, object], list[str]]:
    tenant = ctl.create_tenant(TenantIn(name="t", realm="t.example", sip_server="pbx.t.example"))
    macs = []
    for n in range(3):
        account = ctl.create_account(AccountIn(tenant=tenant["id"], username=f"u{n}"))
        ctl.create_extension(
            ExtensionIn(tenant=tenant["id"], number=f"10{n}", accounts=[account["username"]])
        )
        mac = ctl.create_device(
            DeviceIn(tenant=tenant["id"], mac=f"00156500000{n}", model="yealink-t46s")
        )["mac"]
        ctl.set_lines(mac, [f"10{n}"])
        macs.append(mac)
    return tenant, macs


def spy_compiles(ctl: Control) -> list[str]:
    """The MACs the compiler compiles from now on, in order."""
    compiled: list[str] = []
    original = ctl.compiler.device_files

    def spy(url_key, tenant_data, device, *rest):  # type: ignore[no-untyped-def]
        compiled.append(device.mac)
        return original(url_key, tenant_data, device, *rest)

    ctl.compiler.device_files = spy  # type: ignore[method-assign]
    return compiled


def test_a_publish_killed_after_the_commit_is_redone_at_start(tmp_path: Path) -> None:
    ctl = build_control(tmp_path, EDGE)
    _, macs = _fleet(ctl)
    with ctl.db.transaction() as conn:  # as if the process died between commit and publish
        conn.execute("UPDATE devices SET name = 'changed', rev = rev + 1 WHERE mac = ?", (macs[0],))
    ctl.close()
    before = _blobs(tmp_path)
    assert not any(b"changed" in blob for blob in before.values())

    restarted = build_control(tmp_path, EDGE)
    restarted.jobs.run_until_idle()  # the start-up recompile is a job
    restarted.close()
    after = _blobs(tmp_path)
    assert sum(b"changed" in blob for blob in after.values()) == 1
    assert set(after) == set(before)


def test_blobs_of_a_device_deleted_while_down_are_withdrawn_at_start(tmp_path: Path) -> None:
    ctl = build_control(tmp_path, EDGE)
    _, macs = _fleet(ctl)
    with ctl.db.transaction() as conn:
        conn.execute("DELETE FROM devices WHERE mac = ?", (macs[1],))
    ctl.close()
    assert any(macs[1].encode() in key for key in _blobs(tmp_path))
    build_control(tmp_path, EDGE).close()
    assert not any(macs[1].encode() in key for key in _blobs(tmp_path))


def test_only_touched_devices_are_recompiled(tmp_path: Path) -> None:
    ctl = build_control(tmp_path, EDGE)
    _, macs = _fleet(ctl)
    compiled = spy_compiles(ctl)
    ctl.set_lines(macs[2], [])
    assert compiled == [macs[2]]
    compiled.clear()
    other = ctl.create_tenant(TenantIn(name="other", realm="o.example", sip_server="pbx.o.example"))
    assert ctl.update_tenant(other["id"], TenantPatch(sip_port=5070))["job"] is None
    ctl.jobs.run_until_idle()
    assert compiled == []  # a tenant with no devices: nothing of tenant t recompiled
    ctl.close()


def test_edge_url_change_republishes_provisioning_urls(tmp_path: Path) -> None:
    build_control(tmp_path, EDGE).close()
    ctl = build_control(tmp_path, EDGE)
    _fleet(ctl)
    ctl.close()
    moved = build_control(tmp_path, "https://prov.example.net")
    moved.jobs.run_until_idle()
    moved.close()
    common = [blob for key, blob in _blobs(tmp_path).items() if key.endswith(b"y000000000066.cfg")]
    assert common and b"https://prov.example.net/p/" in common[0]


def test_editing_an_advanced_sample_republishes_nothing(tmp_path: Path) -> None:
    copy = tmp_path / "templates"
    shutil.copytree(DEFAULT_TEMPLATES, copy)
    before = templates_fingerprint(Compiler(copy), EDGE)
    sample = next(copy.glob("*/advanced/*.j2"))
    sample.write_text(sample.read_text() + "{# an operator's note #}\n")
    assert templates_fingerprint(Compiler(copy), EDGE) == before
    default = copy / "yealink" / "mac.cfg"
    default.write_text(default.read_text() + "## changed\n")
    assert templates_fingerprint(Compiler(copy), EDGE) != before
