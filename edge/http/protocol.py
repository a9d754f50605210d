"""The edge's own HTTP/1.1 server: one ``asyncio.Protocol`` per connection, on uvloop.

A phone's ``GET``/``HEAD /p/...`` never leaves this module's synchronous path: its head
is parsed in place by ``httphead.parse_head`` (edge/httphead.py, compiled), decided by the
one transport-free ``EdgeApp.answer`` and written with one ``transport.write``. The
first head that fast path declines (any other method or target, a body, a head split
across reads, anything unusual) moves the connection to ``httptools`` (llhttp, the parser
of Node.js) for good, from that head on. Everything that is not ``/p/`` (``/healthz``,
``/metrics``) goes to Starlette on the same loop through edge/http/bridge.py. Measured
against granian and nginx in docs/performance.md.

Requests of one connection are answered in order: while a Starlette answer is awaited,
the requests pipelined behind it wait in ``pending`` and reading pauses, so a client
cannot queue an unbounded backlog. Reading also pauses while the transport's write
buffer is over its high-water mark (a client that does not read its answers).

Limits (edge/http/limits.py): a request head must be complete within
``header_timeout_s`` of the connection's start or of the previous answer (checked once a
second by ``Serving.sweep``, not by a timer per request), at most ``MAX_HEAD`` bytes, at
most ``max_connections`` connections a worker (one over it is closed at once).
"""

from __future__ import annotations

import asyncio
import collections
import email.utils
import http
import time
from dataclasses import dataclass, field
from typing import Any, cast

import httptools

from edge import httphead
from edge.http import bridge, client_cert
from edge.http.app import PREFIX, EdgeApp, forbidden, not_found
from edge.http.limits import HttpLimits

MAX_HEAD = 16 * 1024  # bytes of request line and headers; a phone sends a few hundred
MAX_BODY = 64 * 1024  # bytes of a body kept for Starlette; /p/ never reads one
STATUS_LINES = {s.value: f"HTTP/1.1 {s.value} {s.phrase}\r\n".encode() for s in http.HTTPStatus}
_KEEP = b"connection: keep-alive\r\n\r\n"  # each ends the head
_CLOSE = b"connection: close\r\n\r\n"
HEADS_KEPT = 4096  # serialized header lists a worker keeps (edge/http/answers.py)
_BAD_REQUEST = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-length: 0\r\nconnection: close\r\n\r\n"
)


@dataclass(slots=True)
class Request:
    """One parsed request: the few headers the edge's decisions need, and the rest for
    Starlette. ``authorization`` is parsed for the delivery policy (HTTP auth)."""

    method: str
    url: bytes
    keep_alive: bool
    http_version: str
    if_none_match: bytes | None = None
    agent: bytes | None = None
    authorization: bytes | None = None
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""


@dataclass(slots=True)
class Serving:
    """What a worker's connections share: the app, the limits, the clock and Date."""

    app: EdgeApp
    limits: HttpLimits
    server_address: tuple[str, int] | None = None
    secure: bool = False  # this listener speaks TLS
    client_ca: bool = False  # and verifies client certificates against a CA
    connections: set[HttpProtocol] = field(default_factory=set)
    clock: int = 0  # seconds, advanced by sweep()
    date: bytes = b""
    # id of a header list -> (that list, its status line and headers serialized). The
    # list is held, so its id cannot be reused while the entry exists.
    heads: dict[tuple[int, int], tuple[list[tuple[bytes, bytes]], bytes]] = field(
        default_factory=dict
    )

    def __post_init__(self) -> None:
        self.tick()

    def tick(self) -> None:
        self.clock = int(time.monotonic())
        self.date = b"date: " + email.utils.formatdate(usegmt=True).encode() + b"\r\n"

    def head(self, status: int, headers: list[tuple[bytes, bytes]]) -> bytes:
        """The status line and headers, built once per header list the app hands out
        (its answers' lists are kept per blob, and constant for the 404s)."""
        key = (status, id(headers))
        kept = self.heads.get(key)
        if kept is not None and kept[0] is headers:
            return kept[1]
        head = STATUS_LINES[status] + b"".join([b"%s: %s\r\n" % h for h in headers])
        if len(self.heads) >= HEADS_KEPT:
            self.heads.clear()
        self.heads[key] = (headers, head)
        return head

    def sweep(self) -> None:
        """Once a second: the Date header, and idle or slow connections closed."""
        self.tick()
        expired = self.clock - self.limits.header_timeout_s
        for conn in [c for c in self.connections if c.waiting and c.waiting_since <= expired]:
            conn.abort()


class HttpProtocol(asyncio.Protocol):
    __slots__ = (
        "app",
        "busy",
        "cert_mac",
        "client",
        "closed",
        "head_bytes",
        "head_size",
        "parser",
        "pending",
        "request",
        "serving",
        "transport",
        "waiting",
        "waiting_since",
        "writing_paused",
    )  # fmt: skip

    def __init__(self, serving: Serving) -> None:
        self.serving = serving
        self.app = serving.app
        # None while the fast path has taken every head; llhttp's from the first it declines
        self.parser: httptools.HttpRequestParser | None = None
        self.transport: asyncio.Transport | None = None
        self.client: tuple[str, int] | None = None
        self.cert_mac: str | None = None  # the MAC the client's certificate names
        self.request: Request | None = None
        self.pending: collections.deque[Request] = collections.deque()
        self.busy = False  # a Starlette answer is being awaited
        self.waiting = True  # for a request head: the header timeout runs
        self.waiting_since = serving.clock
        self.head_bytes = 0  # bytes read while a head is open (a head sent slowly)
        self.head_size = 0  # bytes of the current head's URL and headers
        self.writing_paused = False
        self.closed = False

    # -- the connection --------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport = cast(
            asyncio.Transport, transport
        )  # uvloop's is not a subclass
        serving = self.serving
        if len(serving.connections) >= serving.limits.max_connections:
            transport.abort()  # over the worker's limit: refused, not queued
            self.closed = True
            return
        serving.connections.add(self)
        peer = transport.get_extra_info("peername")
        self.client = (peer[0], peer[1]) if peer else None
        if serving.client_ca:
            ssl_object = transport.get_extra_info("ssl_object")
            if ssl_object is not None:
                self.cert_mac = client_cert.mac_of(ssl_object.getpeercert())

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.serving.connections.discard(self)

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    def pause_writing(self) -> None:
        self.writing_paused = True
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        self.writing_paused = False
        if self.transport is not None and not self.busy:
            self.transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        parser = self.parser
        if parser is None:
            data = self._fast(data)
            parser = self.parser
            if parser is None or not data:
                return
        # Counted before the parse, reset by each complete head during it: what is left
        # counts toward the head still open (pipelined requests in one read do not).
        if self.waiting:
            self.head_bytes += len(data)
        try:
            parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(_BAD_REQUEST)  # no upgrades (WebSocket, h2c) on the edge
            return
        except httptools.HttpParserError:
            self._fail(_BAD_REQUEST)
            return
        if self.waiting and self.head_bytes > MAX_HEAD:
            self._fail(_TOO_LARGE)

    def _fast(self, data: bytes) -> bytes:
        """Answer the plain ``/p/`` heads at the start of ``data``; what is left from the
        first one declined goes to llhttp (returned, with the parser made)."""
        start, size = 0, len(data)
        parse = httphead.parse_head
        while start < size and not self.closed:
            head = parse(data, start, MAX_HEAD)
            if head is None:
                self.parser = httptools.HttpRequestParser(self)
                return data[start:] if start else data
            method, path, keep_alive, http_1_0, if_none_match, agent, authorization, start = head
            self._serve(method, path, keep_alive, http_1_0, if_none_match, agent, authorization)
        return b""

    def _fail(self, response: bytes) -> None:
        # Requests parsed before the bad one are answered first only when all were sync.
        if self.transport is not None and not self.closed:
            if not self.busy:
                self.transport.write(response)
            self.transport.close()
        self.closed = True

    # -- httptools callbacks ---------------------------------------------------------

    def on_message_begin(self) -> None:
        self.waiting = True
        self.request = Request("", b"", True, "1.1")

    def on_url(self, url: bytes) -> None:
        request = self.request
        assert request is not None
        request.url += url
        self.head_size += len(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        request = self.request
        assert request is not None
        self.head_size += len(name) + len(value) + 4
        name = name.lower()
        if name == b"if-none-match":
            request.if_none_match = value
        elif name == b"user-agent":
            request.agent = value
        elif name == b"authorization":
            request.authorization = value
        request.headers.append((name, value))

    def on_headers_complete(self) -> None:
        request = self.request
        assert request is not None
        parser = self.parser
        assert parser is not None
        request.method = parser.get_method().decode("latin-1")
        request.keep_alive = parser.should_keep_alive()
        request.http_version = parser.get_http_version()
        self.waiting = False
        self.head_bytes = 0
        if self.head_size > MAX_HEAD:
            self._fail(_TOO_LARGE)  # whole in one read, so not caught by head_bytes
        self.head_size = 0

    def on_body(self, body: bytes) -> None:
        request = self.request
        assert request is not None
        if len(request.body) < MAX_BODY:  # /p/ ignores it; Starlette's routes take none
            request.body += body[: MAX_BODY - len(request.body)]

    def on_message_complete(self) -> None:
        request = self.request
        assert request is not None
        self.request = None
        if self.busy or self.pending:
            self.pending.append(request)
        else:
            self._handle(request)

    # -- answering -------------------------------------------------------------------

    def _handle(self, request: Request) -> None:
        """Answer one request llhttp parsed now if it can be, else start its Starlette
        answer."""
        if self.closed:
            return
        url = request.url
        path_end = url.find(b"?")
        path = (url if path_end < 0 else url[:path_end]).decode("latin-1")
        http_1_0 = request.http_version == "1.0"
        if path.startswith(PREFIX):
            self._serve(request.method, path, request.keep_alive, http_1_0,
                        request.if_none_match, request.agent, request.authorization)  # fmt: skip
            return
        if self._refused(request.method, request.keep_alive, http_1_0):
            return
        self.busy = True
        assert self.transport is not None
        self.transport.pause_reading()  # the next requests wait for this one's answer
        task = asyncio.get_running_loop().create_task(self._fallback(request, path))
        task.add_done_callback(_retrieve)

    def _serve(
        self, method: str, path: str, keep_alive: bool, http_1_0: bool,
        if_none_match: bytes | None, agent: bytes | None, authorization: bytes | None,
    ) -> None:  # fmt: skip
        """Answer one ``/p/`` request, from either parser: the ban first, then the app."""
        if self._refused(method, keep_alive, http_1_0):
            return
        client = self.client
        app = self.app
        started = time.perf_counter()
        if self.serving.client_ca and not client_cert.allows(self.cert_mac, path):
            status, headers, body = not_found(method)  # another phone's file
        else:
            status, headers, body = app.answer(
                method, path, client, if_none_match, agent, authorization, self.serving.secure
            )
        self._write(status, headers, body, keep_alive, http_1_0)
        app.account(status, path, client, agent, started)

    def _refused(self, method: str, keep_alive: bool, http_1_0: bool) -> bool:
        """A banned client's request answered 403 before anything else is looked at."""
        client = self.client
        if client is None or not self.app.firewall.banned(client[0]):
            return False
        self._write(*forbidden(method), keep_alive, http_1_0)
        return True

    async def _fallback(self, request: Request, path: str) -> None:
        try:
            serving = self.serving
            scheme = "https" if serving.secure else "http"
            status, headers, body = await bridge.call(
                self.app.fallback, request, path, self.client, serving.server_address, scheme
            )
        except Exception:
            # the app failed: answer 500 and close
            self._write(500, [(b"content-length", b"0")], b"", False, False)
            raise
        finally:
            self.busy = False
        self._write(status, headers, body, request.keep_alive, request.http_version == "1.0")
        while self.pending and not self.busy and not self.closed:
            self._handle(self.pending.popleft())
        if not self.busy and not self.closed and not self.writing_paused:
            assert self.transport is not None
            self.transport.resume_reading()

    def _write(
        self, status: int, headers: list[tuple[bytes, bytes]], body: bytes, keep_alive: bool,
        http_1_0: bool,
    ) -> None:  # fmt: skip
        transport = self.transport
        if transport is None or self.closed:
            return
        serving = self.serving
        if keep_alive:
            tail = _KEEP if http_1_0 else b"\r\n"
        else:
            tail = _CLOSE
        transport.write(b"".join((serving.head(status, headers), serving.date, tail, body)))
        if not keep_alive:
            transport.close()
            self.closed = True
        elif not self.pending:
            self.waiting = True  # the header timeout runs again from this answer
            self.waiting_since = self.serving.clock


def _retrieve(task: asyncio.Task[Any]) -> None:
    """A failed Starlette answer is logged by the loop's handler, not lost."""
    if not task.cancelled() and task.exception() is not None:
        loop = asyncio.get_running_loop()
        loop.call_exception_handler({"message": "edge fallback failed", "task": task})
