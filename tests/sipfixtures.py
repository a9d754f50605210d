"""Shared helpers for the SIP parser tests: the corpus and a field-by-field description."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

from edge.sipdefs import MESSAGE_FIELDS, SipParseError

DATA = Path(__file__).parent / "data" / "sip"
RFC4475 = sorted(p.name for p in (DATA / "rfc4475").glob("*.dat"))
PHONES = sorted(p.name for p in (DATA / "phones").glob("*.txt"))


def rfc(name: str) -> bytes:
    return (DATA / "rfc4475" / name).read_bytes()


def phone(name: str) -> bytes:
    return (DATA / "phones" / name).read_bytes()


def corpus() -> list[bytes]:
    return [rfc(n) for n in RFC4475] + [phone(n) for n in PHONES]


def _uri(u: Any) -> Any:
    if u is None:
        return None
    return (u.scheme, u.user, u.password, u.host, u.port, u.params, u.headers, u.text, str(u))


def _addr(a: Any) -> Any:
    if a is None:
        return None
    return (a.display_name, _uri(a.uri), a.tag, a.params, a.expires, a.q, a.instance, a.reg_id)


def _via(v: Any) -> Any:
    return (
        v.protocol,
        v.transport,
        v.host,
        v.port,
        v.branch,
        v.received,
        v.rport,
        v.has_rport,
        v.maddr,
        v.ttl,
        v.params,
    )


def _field(msg: Any, name: str) -> Any:
    value = getattr(msg, name)
    if name == "uri":
        return _uri(value)
    if name in ("from_", "to"):
        return _addr(value)
    if name == "contacts":
        return [_addr(a) for a in value]
    if name == "via":
        return [_via(v) for v in value]
    if name == "cseq":
        return None if value is None else (value.number, value.method)
    if name == "event":
        return None if value is None else (value.package, value.params)
    if name == "authorization":
        return None if value is None else (value.scheme, value.params)
    return value


FIELDS = MESSAGE_FIELDS


def error(exc: SipParseError) -> tuple[str, int, str, int]:
    return ("error", exc.status, exc.reason, exc.offset)


def describe(msg: Any) -> dict[str, Any]:
    """Every field of ``msg`` as plain data; a field that fails to parse becomes its error."""
    out: dict[str, Any] = {}
    for name in FIELDS:
        try:
            out[name] = _field(msg, name)
        except SipParseError as exc:
            out[name] = error(exc)
    for header in ("Via", "Contact", "Allow", "Accept", "User-Agent", "WWW-Authenticate", "X-Nope"):
        out["header:" + header] = msg.header(header)
        out["values:" + header] = msg.header_values(header)
    try:
        auth = msg.auth("Proxy-Authorization")
        out["auth"] = None if auth is None else (auth.scheme, auth.params)
    except SipParseError as exc:
        out["auth"] = error(exc)
    out["to_bytes"] = msg.to_bytes()
    return out


def outcome(mod: ModuleType, data: bytes) -> Any:
    """What ``mod.parse`` makes of ``data``: the description, or the error."""
    try:
        msg = mod.parse(data)
    except SipParseError as exc:
        return error(exc)
    return describe(msg)


def stream_outcome(mod: ModuleType, chunks: list[bytes]) -> Any:
    """Messages framed by a StreamParser fed ``chunks``; an error ends the list."""
    parser = mod.StreamParser()
    out: list[Any] = []
    try:
        for chunk in [*chunks, b""]:  # the empty feed surfaces a pending error
            out.extend(describe(m) for m in parser.feed(chunk))
    except SipParseError as exc:
        out.append(error(exc))
        return out  # how much is buffered after a fault depends on the chunking
    out.append(("buffered", parser.buffered))
    return out
