"""`/metrics` on the edge (summed over `--workers 2`) and on the control plane, after real
traffic (file fetches, a SIP OPTIONS and a REGISTER from a test phone, API writes and a
ban), parsed with prometheus-client's own parser; `promtool check metrics` on both when
promtool (Debian package `prometheus`) is installed."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from edge.http.metrics import Meter, render
from edge.sip.transport import SipContext
from edge.sipparse import parse
from tests.conftest import Provedge, start_provedge, stop_provedge, unique_name
from tests.sipclient import Phone
from tests.test_sip_endpoint import options

YEALINK_UA = "Yealink SIP-T46S 66.86.0.15 00:15:65:00:00:01"
FETCHES = 12  # per phase: new connections, so both workers get some
PASSWORD = "correct-horse-9"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Provedge]:
    server = start_provedge(tmp_path_factory.mktemp("metrics"), "--workers", "2")
    yield server
    stop_provedge(server)


def samples(text: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def until(scrape: Callable[[], Samples], done: Callable[[Samples], bool]) -> Samples:
    """Scrapes until ``done`` holds (another worker's counts are at most 1 s old, the
    edge-state writer commits every 50 ms), for at most 10 s; the last scrape."""
    deadline = time.monotonic() + 10
    for _ in range(100):
        found = scrape()
        if done(found) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    return found


def test_sip_requests_are_counted_by_method_and_answer_and_summed() -> None:
    workers = [Meter(), Meter()]
    for meter, method in zip(workers, ("OPTIONS", "FOOBAR"), strict=True):
        context = SipContext(counts=meter.sip)
        for name in (method, "ACK"):
            raw = options("units").replace(b"OPTIONS", name.encode())
            context.handle(parse(raw), ("127.0.0.1", 5062), ("127.0.0.1", 5060), "udp")
    found = samples(render([meter.snapshot() for meter in workers]).decode())
    total = "provedge_edge_sip_requests_total"
    assert value(found, total, method="OPTIONS", status="200") == 1
    assert value(found, total, method="other", status="501") == 1  # an invented method
    assert value(found, total, method="ACK", status="none") == 2  # never answered; summed
    assert len([key for key in found if key[0] == total]) == 3


def test_edge_metrics_sum_every_worker(server: Provedge) -> None:
    with server.api() as api:
        device = api.get("/api/v1/devices", params={"tenant": "demo"}).json()["items"]
    url = next(d for d in device if d["model"] == "yealink-t46s")["provisioning_url"]
    url += "001565000001.cfg"
    close = {"Connection": "close", "User-Agent": YEALINK_UA}
    etag = ""
    for _ in range(FETCHES):
        answer = httpx.get(url, headers=close)
        assert answer.status_code == 200
        etag = answer.headers["etag"]
    for _ in range(FETCHES):
        assert httpx.get(url, headers={**close, "If-None-Match": etag}).status_code == 304
    missing = url.replace("001565000001.cfg", "001565999999.cfg")
    assert httpx.get(missing, headers={"Connection": "close"}).status_code == 404

    deadline = time.monotonic() + 10  # another worker's counts are at most 1 s old
    while True:
        text = httpx.get(server.edge + "/metrics", headers={"Connection": "close"}).text
        found = samples(text)
        total = "provedge_edge_http_requests_total"
        got = (value(found, total, status="200", vendor="yealink"),
               value(found, total, status="304", vendor="yealink"),
               value(found, total, status="404", vendor="other"))  # fmt: skip
        if got == (FETCHES, FETCHES, 1) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert got == (FETCHES, FETCHES, 1)
    assert value(found, "provedge_edge_workers") == 2
    duration = "provedge_edge_http_request_duration_seconds"
    assert value(found, duration + "_count") == 2 * FETCHES + 1
    assert value(found, duration + "_bucket", le="+Inf") == 2 * FETCHES + 1
    assert 0 < value(found, duration + "_sum") < 2 * FETCHES + 1
    assert value(found, "provedge_edge_fetches_noted_total") >= 2 * FETCHES


def test_control_metrics_are_an_operator_route(server: Provedge) -> None:
    assert httpx.get(server.control + "/metrics").status_code == 401
    with server.api() as api:
        assert api.get("/api/v1/devices", params={"tenant": "demo"}).status_code == 200
        answer = api.get("/metrics")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    found = samples(answer.text)
    assert value(found, "provedge_devices") == 7  # the demo: one phone per family
    assert value(found, "provedge_devices_unpublished") == 0
    for state in ("queued", "running", "done", "failed", "cancelled"):
        assert ("provedge_jobs", frozenset({("state", state)})) in found
    requests = "provedge_control_http_requests_total"
    assert value(found, requests, operation="devices_list", status="200") >= 1
    assert value(found, requests, operation="metrics", status="401") >= 1


def test_sip_registrations_bans_and_publishing(server: Provedge) -> None:
    with server.api() as api:

        def control() -> Samples:
            return samples(api.get("/metrics").text)

        before = control()
        name = unique_name("met")
        tenant = api.post("/api/v1/tenants", json={
            "name": name, "realm": f"{name}.example.com", "sip_server": f"sip.{name}.example.net",
        }).json()  # fmt: skip
        account = api.post(
            "/api/v1/accounts", json={"tenant": tenant["id"], "password": PASSWORD}
        ).json()
        published = control()
        # Each request published its own change: one LMDB transaction and one lag each.
        generation = "provedge_publish_generation"
        assert value(published, generation) >= value(before, generation) + 2
        assert value(published, generation + "_timestamp_seconds") > 0
        for kind in ("tenant", "account"):
            lag = "provedge_publish_lag_seconds"
            assert value(published, lag + "_count", kind=kind) == (
                value(before, lag + "_count", kind=kind) + 1
            )
            assert value(published, lag + "_bucket", kind=kind, le="+Inf") == value(
                published, lag + "_count", kind=kind
            )
            assert value(published, lag + "_sum", kind=kind) >= value(
                before, lag + "_sum", kind=kind
            )
        assert value(published, "provedge_publish_backlog_age_seconds") == 0
        assert value(published, "provedge_accounts_unpublished") == 0

        phone = Phone(server.sip_port, account["username"], tenant["sip_server"])
        try:
            assert phone.exchange(options("metrics-1")).status == 200
            assert phone.login(PASSWORD).status == 200  # a 401 first, then the 200
        finally:
            phone.close()
        assert api.post("/api/v1/bans", json={"address": "203.0.113.7"}).status_code == 201
        listed = api.get("/api/v1/bans").json()

        found = until(control, lambda f: value(f, "provedge_registrations", transport="udp") > 0)
        assert value(found, "provedge_registrations", transport="udp") == 1
        assert value(found, "provedge_registrations", transport="tcp") == 0
        assert value(found, "provedge_bans", reason="manual") == 1 == len(listed)
        assert value(found, "provedge_bans", reason="digest") == 0  # every reason, zeros too

    def edge() -> Samples:
        return samples(httpx.get(server.edge + "/metrics", headers={"Connection": "close"}).text)

    sip = "provedge_edge_sip_requests_total"
    want = {("OPTIONS", "200"): 1.0, ("REGISTER", "401"): 1.0, ("REGISTER", "200"): 1.0}

    def counted(found: Samples) -> dict[tuple[str, str], float]:
        return {
            (dict(labels)["method"], dict(labels)["status"]): n
            for (metric, labels), n in found.items()
            if metric == sip
        }

    found = until(edge, lambda f: counted(f) == want)
    assert counted(found) == want


def test_promtool_accepts_both(server: Provedge, tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (Debian package prometheus); format checked above")
    with server.api() as api:
        texts = [api.get("/metrics").text, httpx.get(server.edge + "/metrics").text]
    for text in texts:
        checked = subprocess.run(
            [promtool, "check", "metrics"], input=text, capture_output=True, text=True,
            timeout=30, check=False,
        )  # fmt: skip
        assert checked.returncode == 0, checked.stdout + checked.stderr
