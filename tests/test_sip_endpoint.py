"""The edge's SIP listeners, over real UDP and TCP sockets on loopback."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from edge.sipparse import parse
from tests.conftest import Provedge

CORPUS = Path(__file__).parent / "data" / "sip" / "rfc4475"
TIMEOUT = 5.0  # bounded wait for an answer that is due


def options(call_id: str, extra: str = "") -> bytes:
    return (
        "OPTIONS sip:provedge@127.0.0.1 SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-" + call_id + ";rport\r\n"
        "Max-Forwards: 70\r\n"
        "From: <sip:probe@example.com>;tag=abc\r\n"
        "To: <sip:provedge@127.0.0.1>\r\n"
        f"Call-ID: {call_id}\r\n"
        "CSeq: 1 OPTIONS\r\n" + extra + "Content-Length: 0\r\n\r\n"
    ).encode()


def udp_exchange(port: int, *datagrams: bytes) -> bytes:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(TIMEOUT)
        for datagram in datagrams:
            sock.sendto(datagram, ("127.0.0.1", port))
        return sock.recv(65535)


def test_options_over_udp_gets_200_with_received_and_rport(provedge: Provedge) -> None:
    response = parse(udp_exchange(provedge.sip_port, options("udp-1")))
    assert not response.is_request and response.status == 200
    assert response.call_id == "udp-1" and response.cseq.method == "OPTIONS"
    assert response.to.tag  # the UAS adds its tag
    assert "OPTIONS" in (response.header("Allow") or "")
    via = response.via[0]
    assert via.received == "127.0.0.1" and isinstance(via.rport, int) and via.rport > 0


def test_unparseable_datagram_gets_no_answer(provedge: Provedge) -> None:
    # The garbage is sent first; the only answer that comes back is the OPTIONS one.
    response = parse(
        udp_exchange(provedge.sip_port, b"\x00\xffnot sip at all\r\n\r\n", options("udp-2"))
    )
    assert response.call_id == "udp-2"


@pytest.mark.parametrize(
    ("name", "status"),
    [("badvers.dat", 505), ("unkscm.dat", 416), ("bext01.dat", 420), ("mismatch01.dat", 400)],
)
def test_rfc4475_messages_get_the_status_the_rfc_names(
    provedge: Provedge, name: str, status: int
) -> None:
    response = parse(udp_exchange(provedge.sip_port, (CORPUS / name).read_bytes()))
    assert response.status == status
    if status == 420:
        assert "nothingSupportsThis" in (response.header("Unsupported") or "")


def _request(method: str, call_id: str, extra: str = "") -> bytes:
    return (
        options(call_id, extra)
        .replace(b"OPTIONS sip:", method.encode() + b" sip:")
        .replace(b"1 OPTIONS", b"1 " + method.encode())
    )


@pytest.mark.parametrize(
    ("method", "extra", "status", "header"),
    [
        ("INVITE", "", 405, ("Allow", "OPTIONS, SUBSCRIBE, REGISTER")),
        ("MESSAGE", "", 405, ("Allow", "OPTIONS, SUBSCRIBE, REGISTER")),
        ("BYE", "", 481, None),
        ("NOTIFY", "Event: check-sync\r\n", 481, None),
        ("SUBSCRIBE", "Event: presence\r\n", 489, ("Allow-Events", "ua-profile")),
        ("FROBNICATE", "", 501, ("Allow", "OPTIONS, SUBSCRIBE, REGISTER")),
    ],
)
def test_requests_not_served_get_the_rfc_answer(
    provedge: Provedge, method: str, extra: str, status: int, header: tuple[str, str] | None
) -> None:
    response = parse(udp_exchange(provedge.sip_port, _request(method, f"ns-{method}", extra)))
    assert response.status == status and response.call_id == f"ns-{method}"
    if header is not None:
        assert response.header(header[0]) == header[1]


def test_tcp_stream_frames_messages_split_anywhere(provedge: Provedge) -> None:
    stream = options("tcp-1") + options("tcp-2")
    with socket.create_connection(("127.0.0.1", provedge.sip_port), timeout=TIMEOUT) as sock:
        for offset in range(0, len(stream), 37):  # arbitrary split points, mid-header included
            sock.sendall(stream[offset : offset + 37])
        received = b""
        while received.count(b"SIP/2.0 200") < 2:
            chunk = sock.recv(65535)
            assert chunk, "connection closed early"
            received += chunk
    assert b"Call-ID: tcp-1" in received and b"Call-ID: tcp-2" in received


def test_tcp_garbage_closes_the_connection(provedge: Provedge) -> None:
    with socket.create_connection(("127.0.0.1", provedge.sip_port), timeout=TIMEOUT) as sock:
        sock.sendall(b"GARBAGE\r\nno colon here\r\n\r\n")
        assert sock.recv(65535) == b""  # closed, nothing answered
