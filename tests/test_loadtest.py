"""loadtest/: the locustfile, headless, against a real provedge (loadtest/run.py's path)."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import httpx
import pytest

from loadtest import phones
from loadtest.run import main


def test_locust_run_against_a_real_provedge_has_no_failures(tmp_path: Path) -> None:
    shape = "steady"  # every phone boots, then re-syncs: 200s first, 304s after
    argv = ["--phones", "14", "--shape", shape, "--out", str(tmp_path), "--window", "1",
            "--duration", "3", "--resync", "1", "--timeout", "60"]  # fmt: skip
    assert main(argv) == 0
    with (tmp_path / f"{shape}-14_stats.csv").open() as text:
        rows = {row["Name"]: row for row in csv.DictReader(text)}
    total = rows.pop("Aggregated")
    assert int(total["Failure Count"]) == 0
    # every vendor family, every step of its chain; re-syncs beyond the first boot
    assert {name.rsplit(" ", 1)[0] for name in rows} == {
        "yealink", "polycom", "cisco-spa", "cisco-mpp", "grandstream", "snom", "fanvil",
    }  # fmt: skip
    assert int(total["Request Count"]) > 2 * 20  # 14 phones, 20 distinct steps
    assert (tmp_path / f"{shape}-14.html").stat().st_size > 0


def test_locust_phones_register_as_a_request_type_of_their_own(tmp_path: Path) -> None:
    argv = ["--phones", "7", "--shape", "storm", "--out", str(tmp_path), "--window", "1",
            "--duration", "3", "--timeout", "60", "--sip"]  # fmt: skip
    assert main(argv) == 0
    with (tmp_path / "storm-7_stats.csv").open() as text:
        rows = {(row["Type"], row["Name"]): row for row in csv.DictReader(text)}
    register = rows[("SIP", "REGISTER")]
    assert int(register["Request Count"]) >= 7 and int(register["Failure Count"]) == 0


def test_storm_driver_boots_every_phone_and_reports(tmp_path: Path) -> None:
    from loadtest import storm
    from loadtest.run import seeded_server

    with seeded_server(21, tmp_path, timeout=60) as (server, phone_list):
        out = tmp_path / "storm"
        argv = ["--phones-csv", str(phone_list), "--window", "1", "--timeout", "30",
                "--out", str(out), "--accounting", str(server.data)]  # fmt: skip
        assert storm.main(argv) == 0
        own = {row["mac"]: sum(row["mac"] in name.lower() for name in row["files"].split())
               for row in phones.load(str(phone_list))}  # fmt: skip
        # the control plane's view of the same counters (its mirror of the edge state)
        with server.api() as api:
            deadline = time.monotonic() + 10  # bounded: the mirror refreshes every second
            while True:
                items = api.get("/api/v1/devices", params={"tenant": "loadtest"}).json()["items"]
                shown = {item["mac"]: item["provision_count"] for item in items}
                if shown == own or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
    assert shown == own
    report = json.loads(out.with_suffix(".json").read_text())
    assert (report["phones_done"], report["errors"]) == (21, {})
    counted = report["accounting"]
    assert (counted["lost"], counted["extra"], counted["phones_wrong"]) == (0, 0, 0)
    assert counted["fetches_counted"] == counted["fetches_served"] == sum(own.values()) > 21
    assert report["requests"] == report["statuses"]["200"] == 60  # 3 × (3+3+3+4+2+3+2)
    assert list(report["steps_ms"]) == ["file 1", "file 2", "file 3", "file 4"]
    assert report["steps_ms"]["file 1"]["count"] == 21
    assert all(
        0 < step["p50"] <= step["p99"] <= step["max"] for step in report["steps_ms"].values()
    )
    assert out.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_storm_driver_registers_each_phone_after_its_files(tmp_path: Path) -> None:
    from loadtest import storm
    from loadtest.run import seeded_server

    with seeded_server(14, tmp_path, timeout=60, sip=True) as (server, phone_list):
        out = tmp_path / "storm-sip"
        argv = ["--phones-csv", str(phone_list), "--window", "1", "--timeout", "30",
                "--out", str(out), "--sip", f"127.0.0.1:{server.sip_port}"]  # fmt: skip
        assert storm.main(argv) == 0
        with server.api() as api:
            deadline = time.monotonic() + 10  # bounded: the writer commits every 50 ms
            while True:
                listed = api.get("/api/v1/registrations", params={"tenant": "loadtest"}).json()
                if len(listed["items"]) >= 14 or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
    report = json.loads(out.with_suffix(".json").read_text())
    assert (report["phones_done"], report["errors"]) == (14, {})
    assert report["steps_ms"]["register"]["count"] == 14
    assert len(listed["items"]) == 14  # every phone's binding, made by the storm
    with pytest.raises(SystemExit):  # load goes to loopback only
        storm.main(["--phones-csv", str(phone_list), "--out", str(out), "--sip", "192.0.2.1:5060"])


@pytest.mark.parametrize(
    ("mode", "count", "requests"), [("preauth", 300, 300), ("challenge", 200, 400)]
)
def test_register_driver_registers_with_credentials_and_reports(
    tmp_path: Path, mode: str, count: int, requests: int
) -> None:
    from loadtest import register
    from loadtest.run import seeded_server

    with seeded_server(30, tmp_path, timeout=60, sip=True) as (server, phone_list):
        out = tmp_path / f"register-{mode}.json"
        argv = ["--phones-csv", str(phone_list), "--port", str(server.sip_port), "--mode", mode,
                "--count", str(count), "--window", "16", "--sockets", "2", "--timeout", "60",
                "--out", str(out)]  # fmt: skip
        assert register.main(argv) == 0
        report = json.loads(out.read_text())
        with server.api() as api:
            contacts = registered_contacts(api)
    assert (report["registrations"], report["failures"], report["stray"]) == (count, {}, 0)
    assert report["register_requests"] == requests
    challenges = {"401": count} if mode == "challenge" else {}
    assert report["statuses"] == {"200": count, **challenges}
    if mode == "preauth":  # one challenge per account first, apart from the figures
        assert report["setup"]["challenges"] == 30
    assert 0 < report["latency_ms"]["p50"] <= report["latency_ms"]["p99"]
    assert report["accounts"] == 30
    # every account is bound once, at its Contact (a run refreshes the run before's)
    assert sorted(contacts) == sorted(f"sip:{row['account']}@127.0.0.1;transport=udp"
                                      for row in phones.load(str(phone_list)))  # fmt: skip


def registered_contacts(api: httpx.Client, want: int = 30) -> list[str]:
    """The tenant's bindings once the edge-state writer holds ``want`` of them."""
    deadline = time.monotonic() + 15
    while True:
        response = api.get("/api/v1/registrations", params={"tenant": "loadtest", "limit": 100})
        assert response.status_code == 200, response.text
        contacts = [item["contact"] for item in response.json()["items"]]
        if len(contacts) >= want or time.monotonic() > deadline:
            return contacts
        time.sleep(0.05)


def test_bench_register_runs_both_modes_pinned_and_stops(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`make bench-register`'s path: loadtest.run starts the server, seeds, runs the driver
    as its own process in each mode and stops everything."""
    argv = ["--phones", "20", "--register", "both", "--registers", "100", "--in-flight", "8",
            "--out", str(tmp_path), "--timeout", "60"]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    for mode in ("preauth", "challenge"):
        report = json.loads((tmp_path / f"register-{mode}-20.json").read_text())
        assert (report["registrations"], report["failures"]) == (100, {})
        assert f"register {mode}: 100 registrations" in printed
