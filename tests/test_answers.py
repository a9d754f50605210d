"""edge/http/answers.py: a blob's answer is kept while its LMDB bytes are unchanged."""

from __future__ import annotations

from edge.http.answers import Answers
from provedge.formats import store


def test_the_kept_answer_is_reused_until_the_blob_changes() -> None:
    answers = Answers()
    first = store.encode_blob("text/plain", b"account.1.enable = 1\n")
    served = answers.get(b"K/a.cfg", memoryview(first))
    assert served.blob.body == b"account.1.enable = 1\n"
    assert dict(served.ok)[b"content-length"] == b"21"
    assert answers.get(b"K/a.cfg", memoryview(first)) is served  # same bytes: same lists
    changed = store.encode_blob("text/plain", b"account.1.enable = 0\n")
    fresh = answers.get(b"K/a.cfg", changed)
    assert fresh is not served and fresh.blob.body == b"account.1.enable = 0\n"
    assert fresh.not_modified == [(b"etag", store.make_etag(b"account.1.enable = 0\n"))]
    retyped = store.encode_blob("application/xml", b"account.1.enable = 0\n")
    assert answers.get(b"K/a.cfg", retyped).blob.content_type == b"application/xml"
    assert answers.get(b"K/b.cfg", first) is not served  # kept per key


def test_a_full_cache_starts_again() -> None:
    answers = Answers(limit=2)
    blobs = [store.encode_blob("text/plain", bytes([n])) for n in range(3)]
    kept = [answers.get(f"K/{n}".encode(), blob) for n, blob in enumerate(blobs)]
    assert answers.get(b"K/2", blobs[2]) is kept[2]
    assert answers.get(b"K/0", blobs[0]) is not kept[0]  # dropped when the third came
