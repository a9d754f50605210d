"""A published blob with the headers of its 200 and 304 answers, kept while unchanged.

Each fetch still reads the blob's LMDB value (so a publish is seen at once), but only its
head (magic, ETag, content type) is compared to the one kept for that key: when equal,
the decoded blob and its header lists are the ones built before, the very same objects,
so the server (edge/http/protocol.py) serializes each list once, not once per request.
"""

from __future__ import annotations

from provedge.formats import store

Headers = list[tuple[bytes, bytes]]
LIMIT = 1 << 16  # blobs kept a worker; all are dropped when full (a publish of many)


class Served:
    __slots__ = ("blob", "head", "not_modified", "ok", "size")

    def __init__(self, raw: bytes | memoryview, head: bytes) -> None:
        blob = self.blob = store.decode_blob(raw)
        self.head = head
        self.size = len(raw)
        self.ok: Headers = [
            (b"content-type", blob.content_type),
            (b"etag", blob.etag),
            (b"content-length", str(len(blob.body)).encode()),
            (b"cache-control", b"no-cache"),
        ]
        self.not_modified: Headers = [(b"etag", blob.etag)]


class Answers:
    def __init__(self, limit: int = LIMIT) -> None:
        self._limit = limit
        self._by_key: dict[bytes, Served] = {}

    def get(self, key: bytes, raw: bytes | memoryview) -> Served:
        """What ``raw`` (the LMDB value under ``key``, valid for this call) serves."""
        head = store.head_of(raw)
        kept = self._by_key.get(key)
        if kept is not None and kept.head == head and kept.size == len(raw):
            return kept
        served = Served(raw, head)
        if len(self._by_key) >= self._limit:
            self._by_key.clear()
        self._by_key[key] = served
        return served
