"""The edge's fast path for a phone's request head, parsed in place: the public module.

A booting phone sends ``GET /p/<key>/<file> HTTP/1.1`` with a handful of headers, and
the edge needs four things from them: If-None-Match, User-Agent, Authorization and
whether the connection stays open. ``parse_head`` reads exactly that from the bytes
uvloop hands over, with no callback per header (httptools calls back into Python for
the URL, every header and each stage: about 2 µs of a keep-alive request,
docs/performance.md).

It accepts only the plain shape, and declines (returns None) everything else, which the
server then feeds to httptools (llhttp) for the rest of that connection, so nothing odd
is ever judged by this code alone:

- the method ``GET`` or ``HEAD``, a target starting ``/p/`` of visible ASCII without
  ``#``, ``HTTP/1.1`` or ``HTTP/1.0``, every line ending CRLF;
- header names of token characters with the colon right after them (no whitespace
  before it, no folded lines), values of visible ASCII, SP and HTAB;
- no Content-Length, Transfer-Encoding, Upgrade or Expect (a body or a protocol change
  is llhttp's to frame), at most one Connection header, and only ``close`` or
  ``keep-alive`` in it;
- the whole head, through its empty line, within ``limit`` bytes of ``start`` (a head
  split across reads is declined too, and llhttp gathers it).

Repeated If-None-Match, User-Agent or Authorization headers: the last one counts, as
with the httptools path. The compiled ``edge._httphead`` is chosen when built, else the
twin ``edge._httphead_py`` (``accel`` setting, docs/configuration.md).
"""

from __future__ import annotations

from edge._accel import load

_impl, IMPLEMENTATION = load("edge._httphead", "edge._httphead_py")

parse_head = _impl.parse_head

__all__ = ["IMPLEMENTATION", "parse_head"]
