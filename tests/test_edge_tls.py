"""HTTPS on the edge with client certificates (issue 18), against a real `provedge run`.

The test makes its own CA (trustme), a server certificate for 127.0.0.1 and phone
certificates naming a MAC the way vendors' factory certificates do (subject CN or SAN).
HTTP stays on its own port beside HTTPS.
"""

from __future__ import annotations

import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import trustme

from edge.http.client_cert import mac_of
from tests.conftest import Provedge, free_port, start_provedge, stop_provedge, unique_name
from tests.test_fetch_counters import UA, phone


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def edge(
    tmp_path_factory: pytest.TempPathFactory, ca: trustme.CA
) -> Iterator[tuple[Provedge, str, str]]:
    """The server, the phone's HTTP URL and the same file's HTTPS URL."""
    tmp = tmp_path_factory.mktemp("tls")
    cert = ca.issue_cert("127.0.0.1")
    cert.cert_chain_pems[0].write_to_path(str(tmp / "edge.pem"))
    cert.private_key_pem.write_to_path(str(tmp / "edge.key"))
    ca.cert_pem.write_to_path(str(tmp / "ca.pem"))
    tls_port = free_port()
    data = tmp / "data"
    data.mkdir()
    server = start_provedge(
        data, "--tls-cert", str(tmp / "edge.pem"), "--tls-key", str(tmp / "edge.key"),
        "--tls-client-ca", str(tmp / "ca.pem"), "--edge-tls-port", str(tls_port),
    )  # fmt: skip
    try:
        url = phone(server, unique_name("tls"))
        port = server.edge.rsplit(":", 1)[1]
        yield (
            server,
            url,
            url.replace(f"http://127.0.0.1:{port}/", f"https://127.0.0.1:{tls_port}/"),
        )
    finally:
        stop_provedge(server)


def client(ca: trustme.CA, tmp: Path, common_name: str | None, *sans: str) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    if common_name is not None or sans:
        ca.issue_cert(*sans or ("phone.invalid",), common_name=common_name).configure_cert(context)
    return context


def get(url: str, context: ssl.SSLContext | None = None) -> httpx.Response:
    return httpx.get(url, headers={"User-Agent": UA}, verify=context or True, timeout=10)


def test_a_phone_certificate_fetches_its_own_file(edge, ca: trustme.CA, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, _, https = edge
    by_cn = get(https, client(ca, tmp_path, "SEP001565ABCDEF"))
    assert by_cn.status_code == 200 and by_cn.content
    by_san = get(https, client(ca, tmp_path, None, "00-15-65-ab-cd-ef.phones.invalid"))
    assert by_san.status_code == 200 and by_san.content == by_cn.content


def test_another_mac_gets_the_ordinary_404(edge, ca: trustme.CA, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, http_url, https = edge
    other = get(https, client(ca, tmp_path, "00:15:65:00:00:99"))
    missing = get(http_url.rsplit("/", 1)[0] + "/001565000099.cfg")
    assert other.status_code == 404 and other.content == missing.content
    assert other.headers["cache-control"] == missing.headers["cache-control"]


def test_no_client_certificate_is_refused(edge, ca: trustme.CA, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, _, https = edge
    with pytest.raises((httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError)):
        get(https, client(ca, tmp_path, None)).raise_for_status()


def test_plain_http_is_still_served_on_its_own_port(edge) -> None:  # type: ignore[no-untyped-def]
    server, http_url, _ = edge
    assert get(http_url).status_code == 200
    assert httpx.get(f"{server.edge}/healthz", timeout=10).json()["status"] == "ok"


def test_the_mac_is_found_in_any_notation() -> None:
    def cert(cn: str, *sans: str) -> dict:  # type: ignore[type-arg]
        return {"subject": ((("commonName", cn),),), "subjectAltName": [("DNS", s) for s in sans]}

    assert mac_of(cert("001565AABBCC")) == "001565aabbcc"
    assert mac_of(cert("SEP001565AABBCC")) == "001565aabbcc"
    assert mac_of(cert("0015.65aa.bbcc")) == "001565aabbcc"
    assert mac_of(cert("Polycom Phone", "urn:dev:mac:00:04:f2:aa:bb:cc")) == "0004f2aabbcc"
    assert mac_of(cert("phone", "phone.example.net")) is None
    assert mac_of(cert("x", "00:15:65:aa:bb:cc:dd")) is None  # seven pairs: not a MAC
    assert mac_of(None) is None


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--tls-cert", "edge.pem"], "--tls-cert and --tls-key go together"),
        (["--edge-tls-port", "9443"], "need --tls-cert"),
        (["--tls-client-ca", "ca.pem"], "need --tls-cert"),
    ],
)
def test_incomplete_tls_settings_exit_2(tmp_path: Path, flags: list[str], message: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "provedge.cli", "edge", "--data", str(tmp_path), *flags],
        check=False, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode == 2 and message in done.stderr
