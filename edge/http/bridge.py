"""One request handed to an ASGI app (the edge's Starlette routes) and its answer collected.

The edge's own server (edge/http/protocol.py) answers ``/p/`` itself; the few other
routes (``/healthz``, ``/metrics``) are Starlette's, reached through this bridge on the
same loop. Their bodies are small, so the answer is gathered whole (at most
``MAX_RESPONSE`` bytes) and written with its length; the request body was read already.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edge.http.protocol import Request

Message = MutableMapping[str, Any]
Asgi = Callable[
    [Message, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]],
    Awaitable[None],
]
MAX_RESPONSE = 16 << 20  # bytes; /metrics of many workers and vendors stays far below


async def call(
    app: Asgi,
    request: Request,
    path: str,
    client: tuple[str, int] | None,
    server: tuple[str, int] | None,
    scheme: str = "http",
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """The status, headers (with content-length) and body ``app`` answers ``request``."""
    _, _, query = request.url.partition(b"?")
    scope: Message = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": request.http_version,
        "method": request.method,
        "scheme": scheme,
        "path": path,
        "raw_path": request.url.partition(b"?")[0],
        "query_string": query,
        "root_path": "",
        "headers": request.headers,
        "client": client,
        "server": server,
    }
    sent_body = False
    disconnected = asyncio.Event()

    async def receive() -> Message:
        nonlocal sent_body
        if not sent_body:
            sent_body = True
            return {"type": "http.request", "body": request.body, "more_body": False}
        await disconnected.wait()  # never set: the answer is gathered whole
        return {"type": "http.disconnect"}

    status = 500
    headers: list[tuple[bytes, bytes]] = []
    chunks: list[bytes] = []
    size = 0

    async def send(message: Message) -> None:
        nonlocal status, headers, size
        if message["type"] == "http.response.start":
            status = message["status"]
            headers = [(bytes(k).lower(), bytes(v)) for k, v in message.get("headers", [])]
        elif message["type"] == "http.response.body":
            chunk = bytes(message.get("body", b""))
            size += len(chunk)
            if size > MAX_RESPONSE:
                raise RuntimeError(f"an edge route answered over {MAX_RESPONSE} bytes")
            chunks.append(chunk)

    await app(scope, receive, send)
    body = b"".join(chunks)
    headers = [h for h in headers if h[0] not in (b"content-length", b"connection")]
    headers.append((b"content-length", str(len(body)).encode()))
    return status, headers, b"" if request.method == "HEAD" else body
