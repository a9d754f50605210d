import pytest

from provedge.formats import store


def test_blob_round_trip_keeps_headers_and_body() -> None:
    body = b"#!version:1.0.0.1\naccount.1.enable = 1\n"
    blob = store.decode_blob(memoryview(store.encode_blob("text/plain", body)))
    assert blob.body == body
    assert blob.content_type == b"text/plain"
    assert blob.etag == store.make_etag(body)
    assert blob.etag.startswith(b'"') and blob.etag.endswith(b'"')


def test_etag_changes_with_the_bytes() -> None:
    assert store.make_etag(b"a") != store.make_etag(b"b")


def test_keys_ignore_file_name_case_but_not_tenant_key() -> None:
    assert store.blob_key("Kx", "snomD785-000413AABBCC.htm") == store.blob_key(
        "Kx", "snomd785-000413aabbcc.htm"
    )
    assert store.blob_key("Kx", "a.cfg") != store.blob_key("kx", "a.cfg")


def test_garbage_is_not_a_blob() -> None:
    with pytest.raises(ValueError):
        store.decode_blob(b"XYZ\x00\x00\x00\x00")
