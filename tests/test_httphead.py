"""The fast path for a phone's request head (edge/httphead.py): both implementations (ids
py / c) on the same cases, and against llhttp (httptools) on every head they accept."""

from __future__ import annotations

import os
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import httptools
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import edge._httphead as c_impl
import edge._httphead_py as py_impl
import edge.httphead
from edge._accel import extensions_disabled

ROOT = Path(__file__).resolve().parent.parent
IMPLS = [pytest.param(py_impl, id="py"), pytest.param(c_impl, id="c")]
LIMIT = 16 * 1024
UA = b"Yealink SIP-T46S 66.86.0.15 00:15:65:aa:bb:cc"
GET = b"GET /p/key/001565aabbcc.cfg HTTP/1.1\r\nHost: edge\r\nUser-Agent: " + UA + b"\r\n\r\n"


@pytest.fixture(params=IMPLS)
def impl(request: pytest.FixtureRequest) -> types.ModuleType:
    module: types.ModuleType = request.param
    return module


def test_compiled_module_loads_unless_disabled() -> None:
    assert edge.httphead.IMPLEMENTATION == ("py" if extensions_disabled() else "c")
    for disabled, expected in ((False, "c"), (True, "py")):
        env = {k: v for k, v in os.environ.items() if k != "PROVEDGE_NO_EXTENSIONS"}
        if disabled:
            env["PROVEDGE_NO_EXTENSIONS"] = "1"
        code = "import edge.httphead as h; print(h.IMPLEMENTATION, h.parse_head.__module__)"
        out = subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
            check=True,
        ).stdout.split()  # fmt: skip
        assert out == [expected, "edge._httphead" if expected == "c" else "edge._httphead_py"]


def test_a_phones_get(impl: types.ModuleType) -> None:
    assert impl.parse_head(GET, 0, LIMIT) == (
        "GET", "/p/key/001565aabbcc.cfg", True, False, None, UA, None, len(GET),
    )  # fmt: skip


def test_the_headers_it_keeps_whatever_their_case_and_spacing(impl: types.ModuleType) -> None:
    raw = (
        b"HEAD /p/key/y000000000044.cfg?mac=1&x HTTP/1.1\r\n"
        b'if-NONE-match: \t "e1", W/"e2" \t\r\n'
        b'AUTHORIZATION:Digest username="a"\r\n'
        b"user-agent: first\r\nUser-Agent: second \r\n"
        b"X-Empty:\r\nConnection: Keep-Alive\r\n\r\n"
    )
    assert impl.parse_head(raw, 0, LIMIT) == (
        "HEAD", "/p/key/y000000000044.cfg", True, False, b'"e1", W/"e2"', b"second",
        b'Digest username="a"', len(raw),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("version", "connection", "keep_alive"),
    [
        (b"1.1", None, True),
        (b"1.1", b"close", False),
        (b"1.1", b"CLOSE", False),
        (b"1.1", b"keep-alive", True),
        (b"1.0", None, False),
        (b"1.0", b"keep-alive", True),
        (b"1.0", b"close", False),
    ],
)
def test_keep_alive_as_http_says(
    impl: types.ModuleType, version: bytes, connection: bytes | None, keep_alive: bool
) -> None:
    lines = [b"GET /p/k/f.cfg HTTP/" + version]
    if connection is not None:
        lines.append(b"Connection: " + connection)
    raw = b"\r\n".join(lines) + b"\r\n\r\n"
    head = impl.parse_head(raw, 0, LIMIT)
    assert head is not None and head[2:4] == (keep_alive, version == b"1.0")
    assert head == c_impl.parse_head(raw, 0, LIMIT) == py_impl.parse_head(raw, 0, LIMIT)


def test_pipelined_heads_are_read_one_after_another(impl: types.ModuleType) -> None:
    second = b"GET /p/k/other.cfg HTTP/1.0\r\n\r\n"
    raw = GET + second + b"GET /p/k/third"
    first = impl.parse_head(raw, 0, LIMIT)
    assert first is not None and first[-1] == len(GET)
    following = impl.parse_head(raw, first[-1], LIMIT)
    assert following is not None and following[1] == "/p/k/other.cfg"
    assert following[-1] == len(GET) + len(second)
    assert impl.parse_head(raw, following[-1], LIMIT) is None  # incomplete
    assert impl.parse_head(raw, len(raw), LIMIT) is None


DECLINED = {
    "another method": b"PUT /p/k/f.cfg HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
    "lowercase method": b"get /p/k/f.cfg HTTP/1.1\r\n\r\n",
    "not /p/": b"GET /healthz HTTP/1.1\r\n\r\n",
    "absolute form": b"GET http://edge/p/k/f.cfg HTTP/1.1\r\n\r\n",
    "a fragment": b"GET /p/k/f.cfg#x HTTP/1.1\r\n\r\n",
    "a space in the target": b"GET /p/k/f .cfg HTTP/1.1\r\n\r\n",
    "a control byte in the target": b"GET /p/k/f\x01.cfg HTTP/1.1\r\n\r\n",
    "non-ASCII target": b"GET /p/k/f\xc3\xa9.cfg HTTP/1.1\r\n\r\n",
    "HTTP/2.0": b"GET /p/k/f.cfg HTTP/2.0\r\n\r\n",
    "HTTP/0.9": b"GET /p/k/f.cfg\r\n\r\n",
    "bare LF": b"GET /p/k/f.cfg HTTP/1.1\nHost: edge\n\n",
    "LF ending the head": b"GET /p/k/f.cfg HTTP/1.1\r\nHost: edge\r\n\n",
    "space before the colon": b"GET /p/k/f.cfg HTTP/1.1\r\nHost : edge\r\n\r\n",
    "no colon": b"GET /p/k/f.cfg HTTP/1.1\r\nHost edge\r\n\r\n",
    "a folded line": b"GET /p/k/f.cfg HTTP/1.1\r\nX-A: a\r\n b\r\n\r\n",
    "obs-text": b"GET /p/k/f.cfg HTTP/1.1\r\nUser-Agent: caf\xe9\r\n\r\n",
    "NUL in a value": b"GET /p/k/f.cfg HTTP/1.1\r\nX-A: a\x00b\r\n\r\n",
    "bare CR in a value": b"GET /p/k/f.cfg HTTP/1.1\r\nX-A: a\rb\r\n\r\n",
    "a body by length": b"GET /p/k/f.cfg HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
    "a chunked body": b"GET /p/k/f.cfg HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "an upgrade": b"GET /p/k/f.cfg HTTP/1.1\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n",
    "an expectation": b"GET /p/k/f.cfg HTTP/1.1\r\nExpect: 100-continue\r\n\r\n",
    "two Connection headers": b"GET /p/k/f.cfg HTTP/1.1\r\nConnection: close\r\n"
    b"Connection: keep-alive\r\n\r\n",
    "a Connection list": b"GET /p/k/f.cfg HTTP/1.1\r\nConnection: keep-alive, close\r\n\r\n",
    "incomplete": b"GET /p/k/f.cfg HTTP/1.1\r\nHost: edge\r\n",
    "empty": b"",
}


@pytest.mark.parametrize("raw", DECLINED.values(), ids=DECLINED.keys())
def test_anything_but_the_plain_shape_is_declined(impl: types.ModuleType, raw: bytes) -> None:
    assert impl.parse_head(raw, 0, LIMIT) is None


def test_a_head_over_the_limit_is_declined(impl: types.ModuleType) -> None:
    assert impl.parse_head(GET, 0, len(GET)) is not None
    assert impl.parse_head(GET, 0, len(GET) - 1) is None
    padded = b"x" * 10 + GET
    assert impl.parse_head(padded, 10, len(GET)) is not None
    assert impl.parse_head(padded, 10, len(GET) - 1) is None


def llhttp(raw: bytes) -> list[dict[str, Any]]:
    """What httptools makes of ``raw``: each complete message's method, target, keep-alive,
    HTTP version and the last value of each header the fast path keeps."""

    class Sink:
        def __init__(self) -> None:
            self.messages: list[dict[str, Any]] = []
            self.current: dict[str, Any] = {}

        def on_message_begin(self) -> None:
            self.current = {"url": b""}

        def on_url(self, url: bytes) -> None:
            self.current["url"] += url

        def on_header(self, name: bytes, value: bytes) -> None:
            self.current[name.lower().decode()] = value

        def on_message_complete(self) -> None:
            self.current["method"] = parser.get_method().decode()
            self.current["keep_alive"] = parser.should_keep_alive()
            self.current["version"] = parser.get_http_version()
            self.messages.append(self.current)

    sink = Sink()
    parser = httptools.HttpRequestParser(sink)
    parser.feed_data(raw)
    return sink.messages


def agrees_with_llhttp(raw: bytes) -> None:
    """Both twins give the same answer; where they accept a head, llhttp reads the same
    message from exactly those bytes."""
    head = c_impl.parse_head(raw, 0, LIMIT)
    assert head == py_impl.parse_head(raw, 0, LIMIT)
    if head is None:
        return
    method, path, keep_alive, http_1_0, if_none_match, agent, authorization, end = head
    (message,) = llhttp(raw[:end])
    assert message["method"] == method
    assert message["url"].partition(b"?")[0].decode() == path
    assert message["keep_alive"] == keep_alive
    assert (message["version"] == "1.0") == http_1_0
    for name, value in (
        ("if-none-match", if_none_match),
        ("user-agent", agent),
        ("authorization", authorization),
    ):
        assert (message.get(name, b"").strip(b" \t") or None) == (value or None), name


@pytest.mark.parametrize("raw", [GET, *DECLINED.values()], ids=["get", *DECLINED.keys()])
def test_the_cases_agree_with_llhttp(raw: bytes) -> None:
    agrees_with_llhttp(raw)


_NAMES = st.sampled_from(
    ["Host", "User-Agent", "user-agent", "If-None-Match", "Authorization", "Connection",
     "Accept", "X-Thing", "Content-Length", "Upgrade", "Host ", "Bad Name", ""]
)  # fmt: skip
_VALUES = st.one_of(
    st.sampled_from(["close", "keep-alive", "Keep-Alive", "0", '"etag"', "", "  pad  "]),
    st.text(st.characters(min_codepoint=0, max_codepoint=0xFF), max_size=20),
)
_LINES = st.sampled_from(
    ["GET /p/k/001565aabbcc.cfg HTTP/1.1", "HEAD /p/k/f.cfg?a=b HTTP/1.0", "GET /p/ HTTP/1.1",
     "GET /p/k/f.cfg HTTP/1.2", "POST /p/k/f.cfg HTTP/1.1", "GET /p/k/a b HTTP/1.1"]
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(
    _LINES,
    st.lists(st.tuples(_NAMES, st.sampled_from([":", ": ", ":\t", " :"]), _VALUES), max_size=6),
    st.sampled_from(["\r\n", "\n"]),
)
def test_generated_heads_agree_with_llhttp(
    line: str, fields: list[tuple[str, str, str]], eol: str
) -> None:
    head = line + eol + "".join(f"{n}{sep}{v}{eol}" for n, sep, v in fields) + eol
    agrees_with_llhttp(head.encode("latin-1"))
