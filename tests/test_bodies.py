"""control.api.bodies: bounded reads that stop at the limit, and off-loop parsing."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from starlette.requests import Request

from control.api import bodies
from control.api.schemas import Lines
from control.domain.errors import ServiceError


def request(
    chunks: list[bytes], headers: dict[str, str] | None = None
) -> tuple[Request, list[int]]:
    """A Request whose body arrives in ``chunks``; the list counts the chunks handed out."""
    pulled: list[int] = []

    async def receive() -> dict[str, Any]:
        pulled.append(1)
        index = len(pulled) - 1
        more = index + 1 < len(chunks)
        return {"type": "http.request", "body": chunks[index], "more_body": more}

    raw = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    return Request({"type": "http", "method": "PUT", "headers": raw}, receive), pulled


def test_declared_length_over_the_limit_reads_nothing() -> None:
    req, pulled = request([b"x" * 10], {"Content-Length": "1001"})
    with pytest.raises(ServiceError) as err:
        asyncio.run(bodies.read_body(req, 1000))
    assert err.value.status == 413 and pulled == []


@pytest.mark.parametrize("value", ["12a", "-1", "\u0661"])
def test_declared_length_that_is_not_a_number_is_400(value: str) -> None:
    req, _ = request([b""], {"Content-Length": value})
    with pytest.raises(ServiceError) as err:
        asyncio.run(bodies.read_body(req, 1000))
    assert err.value.status == 400 and set(err.value.errors) == {"content-length"}


def test_undeclared_length_stops_at_the_chunk_that_passes_the_limit() -> None:
    req, pulled = request([b"x" * 400] * 100)
    with pytest.raises(ServiceError) as err:
        asyncio.run(bodies.read_body(req, 1000))
    assert err.value.status == 413 and len(pulled) == 3  # 1,200 bytes read of 40,000


def test_body_at_the_limit_is_whole() -> None:
    req, _ = request([b"x" * 500, b"y" * 500])
    assert asyncio.run(bodies.read_body(req, 1000)) == b"x" * 500 + b"y" * 500


@pytest.mark.parametrize("size, off_loop", [(100, False), (bodies.INLINE_PARSE_BYTES + 1, True)])
def test_large_bodies_are_parsed_off_the_event_loop(
    monkeypatch: pytest.MonkeyPatch, size: int, off_loop: bool
) -> None:
    threads: list[int] = []
    decode = bodies.decode

    def recording(raw: bytes, kind: Any, root: str = "body") -> Any:
        threads.append(threading.get_ident())
        return decode(raw, kind, root)

    monkeypatch.setattr(bodies, "decode", recording)
    body = b'[{"extension": "1001"}' + b" " * (size - 23) + b"]"
    assert len(body) == size

    async def parse() -> tuple[Any, int]:
        req, _ = request([body])
        return await bodies.parse_body(req, Lines, 1 << 20), threading.get_ident()

    lines, loop_thread = asyncio.run(parse())
    assert [line.extension for line in lines] == ["1001"]
    assert (threads[0] != loop_thread) is off_loop
