"""Request bodies and query parameters: read within a size limit, decoded, validated.

A body is read from the stream and refused with 413 as soon as it is known to be too big:
from ``Content-Length`` before a byte is read, or while counting the chunks of a body sent
without one. Nothing larger than the limit is ever held in memory.

JSON decoding (orjson) and validation (pydantic) of a body above ``INLINE_PARSE_BYTES`` run
in the thread pool, not on the event loop. Both are C/Rust calls that hold the GIL while
they run, so the thread pool alone does not make them free for the loop; the size limit is
what bounds how long one call can take (a few tens of milliseconds for 1 MiB).
"""

from __future__ import annotations

from functools import cache
from typing import Any

import orjson
from pydantic import TypeAdapter, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from control.domain.errors import ServiceError

MAX_BODY_BYTES = 1 << 20  # 1 MiB: the default of create_app(max_body_bytes=...)
BULK_BODY_BYTES = 32 << 20  # 32 MiB: an import of 100,000 rows (route.Op.body_limit)
INLINE_PARSE_BYTES = 64 << 10  # bodies up to this size are parsed on the loop


@cache
def adapter(kind: Any) -> TypeAdapter[Any]:
    """One TypeAdapter per type (building one compiles a validator)."""
    return TypeAdapter(kind)


def _field(loc: tuple[int | str, ...], root: str) -> str:
    """A pydantic location as a field name; ``root`` names the data itself (a list body:
    ``lines``, so its items read ``lines[6]`` as the service's own checks name them)."""
    name = "" if root == "body" else root
    for part in loc:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name or root


def validate(kind: Any, data: Any, root: str = "body") -> Any:
    """``data`` as ``kind``, or a 422 naming every bad field."""
    try:
        return adapter(kind).validate_python(data)
    except ValidationError as exc:
        # pydantic prefixes our own validators' messages with "Value error, ": noise.
        errors = {
            _field(err["loc"], root): err["msg"].removeprefix("Value error, ")
            for err in exc.errors()
        }
        raise ServiceError(422, errors) from None


def too_large(limit: int) -> ServiceError:
    return ServiceError(413, {"body": f"larger than the limit of {limit} bytes"})


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, or a 413 as soon as it passes ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None:
        declared = declared.strip()
        if not (declared.isascii() and declared.isdigit()):
            raise ServiceError(400, {"content-length": "not a number of bytes"})
        if len(declared) > 19 or int(declared) > limit:  # 20 digits: over any limit
            raise too_large(limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def decode(raw: bytes, kind: Any, root: str = "body") -> Any:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ServiceError(400, {"body": "not valid JSON"}) from None
    return validate(kind, data, root)


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def parse_body(
    request: Request, kind: Any, limit: int, media_types: tuple[str, ...] = (),
    root: str = "body",
) -> Any:  # fmt: skip
    """The body read within ``limit``, decoded and validated as ``kind``; sent as one of
    ``media_types`` other than JSON, it is the text itself (UTF-8), for the handler;
    ``kind`` ``bytes`` (an image upload) is the bytes as sent, whatever the type (the
    handler checks it)."""
    raw = await read_body(request, limit)
    if kind is bytes:
        return raw
    sent = media_type(request)
    if sent != "application/json" and sent in media_types:
        try:
            return raw.decode()
        except UnicodeDecodeError:
            raise ServiceError(400, {"body": "not UTF-8 text"}) from None
    if len(raw) <= INLINE_PARSE_BYTES:
        return decode(raw, kind, root)
    return await run_in_threadpool(decode, raw, kind, root)


def parse_query(request: Request, kind: Any) -> Any:
    """The query parameters as ``kind`` (None: a route that takes none). An unknown or a
    repeated parameter is a 422, never silently ignored or overwritten."""
    params = request.query_params
    known = set() if kind is None else set(kind.model_fields)
    errors = {name: "given more than once" for name in params if len(params.getlist(name)) > 1}
    errors.update({name: "unknown query parameter" for name in params if name not in known})
    if errors:
        raise ServiceError(422, errors)
    return None if kind is None else validate(kind, dict(params))
