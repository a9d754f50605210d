"""The edge's own HTTP/1.1 server (edge/http/protocol.py), spoken to over raw sockets.

One real `provedge run` on loopback for the module; its tenant and phone are built by the
module. Pipelined requests are sent in one write and their answers must come in order,
whether the edge answers them itself (/p/) or through Starlette (/healthz).
"""

from __future__ import annotations

import socket
import time

import pytest

from tests.conftest import Provedge, unique_name
from tests.test_fetch_counters import UA, phone

TIMEOUT_S = 10


Answer = tuple[bytes, dict[bytes, bytes], bytes]


def exchange(
    server: Provedge, raw: bytes, answers: int, heads: tuple[int, ...] = ()
) -> list[Answer]:
    """Send ``raw`` in one write; read ``answers`` responses (status line, headers, body).
    ``heads``: the positions of HEAD requests, whose answers have no body."""
    port = int(server.edge.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S) as sock:
        sock.sendall(raw)
        buffer = b""
        out = []
        while len(out) < answers:
            while b"\r\n\r\n" not in buffer:
                chunk = sock.recv(65536)
                assert chunk, f"closed after {len(out)} answers"
                buffer += chunk
            head, _, buffer = buffer.partition(b"\r\n\r\n")
            status, *lines = head.split(b"\r\n")
            headers = {k.lower(): v for k, _, v in (line.partition(b": ") for line in lines)}
            bodiless = len(out) in heads or status.split()[1] == b"304"
            length = 0 if bodiless else int(headers.get(b"content-length", 0))
            while len(buffer) < length:
                chunk = sock.recv(65536)
                assert chunk
                buffer += chunk
            out.append((status, headers, buffer[:length]))
            buffer = buffer[length:]
        return out


def closes(server: Provedge, raw: bytes) -> tuple[bytes, bool]:
    """Everything the edge sends for ``raw``, and whether it closed the connection."""
    port = int(server.edge.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S) as sock:
        sock.sendall(raw)
        data = b""
        try:
            while chunk := sock.recv(65536):
                data += chunk
        except TimeoutError:
            return data, False
        return data, True


@pytest.fixture(scope="module")
def path(provedge: Provedge) -> str:
    """The path of one phone's per-MAC file (the module's one phone: its MAC is fixed)."""
    return "/" + phone(provedge, unique_name("proto")).split("/", 3)[3]


def get(path: str, *headers: str, method: str = "GET", version: str = "1.1") -> bytes:
    lines = [f"{method} {path} HTTP/{version}", "Host: edge", f"User-Agent: {UA}", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_pipelined_requests_are_answered_in_order(provedge: Provedge, path: str) -> None:
    raw = get(path) + get("/healthz") + get(path, method="HEAD") + get(path + "x") + get(path)
    answers = exchange(provedge, raw, 5, heads=(2,))
    assert [a[0].split()[1] for a in answers] == [b"200", b"200", b"200", b"404", b"200"]
    body = answers[0][2]
    assert body and answers[4][2] == body
    assert answers[1][1][b"content-type"] == b"application/json"
    assert b'"status":"ok"' in answers[1][2]
    # HEAD: the GET's headers, no body (the next answer's status line follows at once).
    assert answers[2][1][b"content-length"] == str(len(body)).encode()


def test_head_is_answered_without_a_body(provedge: Provedge, path: str) -> None:
    data, closed = closes(provedge, get(path, "Connection: close", method="HEAD"))
    head, _, rest = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK") and closed and rest == b""
    assert b"content-length: " in head and b"content-length: 0" not in head


def test_etag_gives_304_and_other_methods_405(provedge: Provedge, path: str) -> None:
    [(_, headers, _)] = exchange(provedge, get(path), 1)
    etag = headers[b"etag"].decode()
    raw = get(path, f"If-None-Match: {etag}") + get(path, "Content-Length: 3", method="PUT")
    raw += b"abc" + get(path, f'If-None-Match: W/{etag}, "other"')
    answers = exchange(provedge, raw, 3)
    assert [a[0] for a in answers] == [
        b"HTTP/1.1 304 Not Modified",
        b"HTTP/1.1 405 Method Not Allowed",
        b"HTTP/1.1 304 Not Modified",
    ]
    assert answers[0][1][b"etag"].decode() == etag and answers[0][2] == b""
    assert answers[1][1][b"allow"] == b"GET, HEAD"


def test_connection_close_and_http_1_0(provedge: Provedge, path: str) -> None:
    data, closed = closes(provedge, get(path, "Connection: close"))
    assert data.startswith(b"HTTP/1.1 200 OK") and b"connection: close" in data and closed
    data, closed = closes(provedge, get(path, version="1.0"))  # 1.0: closed by default
    assert data.startswith(b"HTTP/1.1 200 OK") and closed
    answers = exchange(provedge, get(path, "Connection: keep-alive", version="1.0") * 2, 2)
    assert [a[0].split()[1] for a in answers] == [b"200", b"200"]
    assert answers[0][1][b"connection"] == b"keep-alive"


def test_a_malformed_request_gets_400_and_is_closed(provedge: Provedge) -> None:
    for raw in (b"GARBAGE\r\n\r\n", b"GET /p/x HTTP/1.1\r\nHost edge\r\n\r\n", b"\x16\x03\x01\x00"):
        data, closed = closes(provedge, raw)
        assert data.startswith(b"HTTP/1.1 400 Bad Request") and closed, raw


def test_an_oversized_head_gets_431(provedge: Provedge) -> None:
    raw = b"GET /p/x HTTP/1.1\r\nHost: edge\r\nX-Pad: " + b"a" * 20_000 + b"\r\n\r\n"
    data, closed = closes(provedge, raw)
    assert data.startswith(b"HTTP/1.1 431") and closed


def test_many_pipelined_requests_in_one_write_are_all_answered(
    provedge: Provedge, path: str
) -> None:
    raw = get(path, method="HEAD") * 200  # about 20 KB: more than one head may have
    answers = exchange(provedge, raw, 200, heads=tuple(range(200)))
    assert {a[0] for a in answers} == {b"HTTP/1.1 200 OK"}


def test_a_head_split_across_reads_is_answered_by_llhttp(provedge: Provedge, path: str) -> None:
    """The fast path (edge/httphead.py) takes only whole heads; a head sent in pieces moves
    the connection to llhttp, which answers it and every request after it."""
    port = int(provedge.edge.rsplit(":", 1)[1])
    raw = get(path)
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(raw[:20])
        time.sleep(0.2)  # a separate read on the edge
        sock.sendall(raw[20:] + get(path, "Connection: close"))
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert data.count(b"HTTP/1.1 200 OK") == 2 and data.startswith(b"HTTP/1.1 200 OK")


def test_a_body_on_a_get_is_framed_not_read_as_a_request(provedge: Provedge, path: str) -> None:
    """A request with a body is declined by the fast path and framed by llhttp: the body
    (here shaped like a request) is never answered as one."""
    smuggled = get(path + "x")
    raw = get(path, f"Content-Length: {len(smuggled)}") + smuggled + get(path, "Connection: close")
    data, closed = closes(provedge, raw)
    assert closed and data.count(b"HTTP/1.1 ") == 2 and b"404" not in data
    assert data.count(b"HTTP/1.1 200 OK") == 2
