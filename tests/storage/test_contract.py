"""The ``StorageBackend`` contract, run against every backend in ``conftest.BACKENDS``.

Bytes always travel the way a client sends them: an HTTP PUT to the presigned URL.
"""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime, timedelta

import pytest

from tests.storage.conftest import BackendUnderTest
from uploadkit_server.storage.base import (
    ByteRange,
    InvalidParts,
    ObjectNotFound,
    PartETag,
    StorageBackend,
)

MiB = 1024 * 1024
KEY = "proj_test/files/abc123/photo.jpg"


def md5_etag(data: bytes) -> str:
    return f'"{hashlib.md5(data).hexdigest()}"'


async def read_all(storage: StorageBackend, key: str, byte_range: ByteRange | None = None) -> bytes:
    return b"".join([chunk async for chunk in storage.read(key, byte_range=byte_range)])


async def put_object(
    backend: BackendUnderTest, key: str, data: bytes, content_type: str = "image/jpeg"
) -> str:
    url = await backend.storage.presign_put(
        key, content_type=content_type, content_length=len(data), expires_in=900
    )
    response = await backend.http_put(url, data, {"Content-Type": content_type})
    assert response.status_code == 200, response.text
    return response.headers["ETag"]


async def put_part(
    backend: BackendUnderTest, key: str, upload_id: str, number: int, data: bytes
) -> str:
    url = await backend.storage.presign_part(
        key, upload_id=upload_id, part_number=number, content_length=len(data), expires_in=3600
    )
    response = await backend.http_put(url, data, {})
    assert response.status_code == 200, response.text
    return response.headers["ETag"]


async def test_single_put_head_read_delete(storage_backend: BackendUnderTest) -> None:
    storage = storage_backend.storage
    data = os.urandom(300_000)
    etag = await put_object(storage_backend, KEY, data)
    assert etag == storage_backend.content_etag(data)

    info = await storage.head(KEY)
    assert info is not None
    assert (info.size, info.content_type, info.etag) == (len(data), "image/jpeg", etag)
    assert info.last_modified.tzinfo is not None
    assert await read_all(storage, KEY) == data

    await storage.delete(KEY)
    assert await storage.head(KEY) is None
    with pytest.raises(ObjectNotFound):
        await read_all(storage, KEY)


@pytest.mark.parametrize(
    ("start", "end"),
    [(0, 0), (0, 99), (1000, 1999), (299_000, 299_999), (123_456, 250_000), (299_999, 299_999)],
)
async def test_read_byte_ranges(storage_backend: BackendUnderTest, start: int, end: int) -> None:
    data = os.urandom(300_000)
    await put_object(storage_backend, KEY, data)
    got = await read_all(storage_backend.storage, KEY, ByteRange(start=start, end=end))
    assert got == data[start : end + 1]


async def test_range_end_past_the_object_is_clamped(storage_backend: BackendUnderTest) -> None:
    data = os.urandom(1000)
    await put_object(storage_backend, KEY, data)
    got = await read_all(storage_backend.storage, KEY, ByteRange(start=900, end=5000))
    assert got == data[900:]


async def test_large_object_reads_in_several_chunks(storage_backend: BackendUnderTest) -> None:
    data = os.urandom(3 * MiB + 17)
    await put_object(storage_backend, KEY, data, "application/octet-stream")
    chunks = [chunk async for chunk in storage_backend.storage.read(KEY)]
    assert len(chunks) > 1
    assert b"".join(chunks) == data


async def test_empty_object(storage_backend: BackendUnderTest) -> None:
    etag = await put_object(storage_backend, KEY, b"", "text/plain")
    info = await storage_backend.storage.head(KEY)
    assert info is not None and info.size == 0 and info.etag == etag
    assert await read_all(storage_backend.storage, KEY) == b""


async def test_put_replaces_an_existing_object(storage_backend: BackendUnderTest) -> None:
    await put_object(storage_backend, KEY, b"first version", "text/plain")
    await put_object(storage_backend, KEY, b"second, longer version", "text/markdown")
    info = await storage_backend.storage.head(KEY)
    assert info is not None and (info.size, info.content_type) == (22, "text/markdown")
    assert await read_all(storage_backend.storage, KEY) == b"second, longer version"


async def test_unicode_and_reserved_characters_in_keys(storage_backend: BackendUnderTest) -> None:
    key = "proj_test/files/abc/résumé 写真 #1 ?%2F&=+.txt"
    await put_object(storage_backend, key, b"hello", "text/plain")
    assert await read_all(storage_backend.storage, key) == b"hello"
    assert await storage_backend.storage.head("proj_test/files/abc/resume.txt") is None


async def test_head_and_read_of_missing_object(storage_backend: BackendUnderTest) -> None:
    assert await storage_backend.storage.head("proj_test/nothing/here.bin") is None
    with pytest.raises(ObjectNotFound):
        await read_all(storage_backend.storage, "proj_test/nothing/here.bin")


async def test_delete_of_missing_object_is_fine(storage_backend: BackendUnderTest) -> None:
    await storage_backend.storage.delete("proj_test/nothing/here.bin")
    await put_object(storage_backend, KEY, b"x", "text/plain")
    await storage_backend.storage.delete(KEY)
    await storage_backend.storage.delete(KEY)
    assert await storage_backend.storage.head(KEY) is None


async def test_delete_many_removes_every_key_and_ignores_missing(
    storage_backend: BackendUnderTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = storage_backend.storage
    # S3 in batches of 2, so that several DeleteObjects calls are made (no effect elsewhere).
    monkeypatch.setattr("uploadkit_server.storage.s3.DELETE_OBJECTS_BATCH", 2)
    keys = [f"proj_many/route/{n}/f.bin" for n in range(5)]
    for n, key in enumerate(keys):
        await put_object(storage_backend, key, bytes([n]) * 10)
    kept = "proj_many/route/kept/f.bin"
    await put_object(storage_backend, kept, b"stay")
    await storage.delete_many([*keys, "proj_many/route/never/existed.bin"])
    for key in keys:
        assert await storage.head(key) is None, key
    assert await read_all(storage, kept) == b"stay"
    await storage.delete_many([])


async def test_presign_get_is_none_or_serves_the_bytes(storage_backend: BackendUnderTest) -> None:
    await put_object(storage_backend, KEY, b"downloadable", "text/plain")
    url = await storage_backend.storage.presign_get(KEY, expires_in=60)
    if url is not None:  # backends that serve downloads themselves
        import httpx

        async with httpx.AsyncClient(timeout=10) as http:
            assert (await http.get(url)).content == b"downloadable"


# -- multipart ---------------------------------------------------------------------------------


async def test_multipart_round_trip_is_byte_exact(storage_backend: BackendUnderTest) -> None:
    storage = storage_backend.storage
    parts = [os.urandom(5 * MiB), os.urandom(5 * MiB), os.urandom(1234)]
    upload_id = await storage.create_multipart(KEY, content_type="video/mp4")

    etags: dict[int, str] = {}
    for number in (2, 3, 1):  # any order, as parallel clients would
        etags[number] = await put_part(storage_backend, KEY, upload_id, number, parts[number - 1])
        assert etags[number] == storage_backend.content_etag(parts[number - 1])

    listed = await storage.list_parts(KEY, upload_id=upload_id)
    assert [(p.part_number, p.etag, p.size) for p in listed] == [
        (n, etags[n], len(parts[n - 1])) for n in (1, 2, 3)
    ]

    await storage.complete_multipart(
        KEY, upload_id=upload_id, parts=[PartETag(n, etags[n]) for n in (1, 2, 3)]
    )
    whole = b"".join(parts)
    info = await storage.head(KEY)
    assert info is not None
    assert (info.size, info.content_type) == (len(whole), "video/mp4")
    digests = b"".join(storage_backend.content_digest(part) for part in parts)
    assert info.etag == f'"{hashlib.md5(digests).hexdigest()}-3"'
    assert await read_all(storage, KEY) == whole
    assert (
        await read_all(storage, KEY, ByteRange(5 * MiB - 10, 5 * MiB + 9))
        == whole[5 * MiB - 10 : 5 * MiB + 10]
    )
    with pytest.raises(ObjectNotFound):
        await storage.list_parts(KEY, upload_id=upload_id)
    assert await storage_backend.leftovers() == []


async def test_single_small_part_completes(storage_backend: BackendUnderTest) -> None:
    storage = storage_backend.storage
    upload_id = await storage.create_multipart(KEY, content_type="text/plain")
    etag = await put_part(storage_backend, KEY, upload_id, 1, b"only part")
    # Quotes are optional when giving ETags back, as on S3.
    await storage.complete_multipart(KEY, upload_id=upload_id, parts=[PartETag(1, etag.strip('"'))])
    assert await read_all(storage, KEY) == b"only part"


async def test_reuploaded_part_replaces_the_first(storage_backend: BackendUnderTest) -> None:
    storage = storage_backend.storage
    upload_id = await storage.create_multipart(KEY, content_type="text/plain")
    await put_part(storage_backend, KEY, upload_id, 1, b"first try")
    etag = await put_part(storage_backend, KEY, upload_id, 1, b"second try!")
    listed = await storage.list_parts(KEY, upload_id=upload_id)
    assert [(p.part_number, p.etag, p.size) for p in listed] == [(1, etag, 11)]
    await storage.complete_multipart(KEY, upload_id=upload_id, parts=[PartETag(1, etag)])
    assert await read_all(storage, KEY) == b"second try!"


async def test_completing_with_a_subset_of_parts(storage_backend: BackendUnderTest) -> None:
    storage = storage_backend.storage
    upload_id = await storage.create_multipart(KEY, content_type="text/plain")
    first = os.urandom(5 * MiB)
    etag1 = await put_part(storage_backend, KEY, upload_id, 1, first)
    etag3 = await put_part(storage_backend, KEY, upload_id, 3, b"tail")
    await put_part(storage_backend, KEY, upload_id, 7, b"never used")
    await storage.complete_multipart(
        KEY, upload_id=upload_id, parts=[PartETag(1, etag1), PartETag(3, etag3)]
    )
    assert await read_all(storage, KEY) == first + b"tail"
    assert await storage_backend.leftovers() == []


async def test_abort_removes_every_part(storage_backend: BackendUnderTest) -> None:
    storage = storage_backend.storage
    upload_id = await storage.create_multipart(KEY, content_type="text/plain")
    await put_part(storage_backend, KEY, upload_id, 1, os.urandom(5 * MiB))
    await put_part(storage_backend, KEY, upload_id, 2, b"end")
    assert len(await storage.list_parts(KEY, upload_id=upload_id)) == 2

    await storage.abort_multipart(KEY, upload_id=upload_id)
    with pytest.raises(ObjectNotFound):
        await storage.list_parts(KEY, upload_id=upload_id)
    assert await storage.head(KEY) is None
    assert await storage_backend.leftovers() == []
    await storage.abort_multipart(KEY, upload_id=upload_id)  # twice is fine


async def test_abort_of_unknown_upload_is_fine(storage_backend: BackendUnderTest) -> None:
    await storage_backend.storage.abort_multipart(KEY, upload_id="nosuchupload0000000000")


async def test_list_parts_of_unknown_upload(storage_backend: BackendUnderTest) -> None:
    with pytest.raises(ObjectNotFound):
        await storage_backend.storage.list_parts(KEY, upload_id="nosuchupload0000000000")


async def test_upload_id_belongs_to_its_key(storage_backend: BackendUnderTest) -> None:
    storage = storage_backend.storage
    upload_id = await storage.create_multipart(KEY, content_type="text/plain")
    with pytest.raises(ObjectNotFound):
        await storage.list_parts("proj_test/files/other/key.txt", upload_id=upload_id)
    await storage.abort_multipart(KEY, upload_id=upload_id)


async def test_fresh_upload_lists_no_parts(storage_backend: BackendUnderTest) -> None:
    storage = storage_backend.storage
    upload_id = await storage.create_multipart(KEY, content_type="text/plain")
    assert await storage.list_parts(KEY, upload_id=upload_id) == []
    await storage.abort_multipart(KEY, upload_id=upload_id)


@pytest.mark.parametrize(
    "case",
    ["wrong etag", "missing part", "descending", "duplicate", "empty", "small middle part"],
)
async def test_invalid_parts_are_refused(storage_backend: BackendUnderTest, case: str) -> None:
    storage = storage_backend.storage
    upload_id = await storage.create_multipart(KEY, content_type="text/plain")
    big = os.urandom(5 * MiB)
    etag1 = await put_part(storage_backend, KEY, upload_id, 1, big)
    etag2 = await put_part(storage_backend, KEY, upload_id, 2, b"small")
    etag3 = await put_part(storage_backend, KEY, upload_id, 3, b"last")
    given = {
        "wrong etag": [PartETag(1, etag1), PartETag(2, md5_etag(b"other"))],
        "missing part": [PartETag(1, etag1), PartETag(4, etag2)],
        "descending": [PartETag(2, etag2), PartETag(1, etag1)],
        "duplicate": [PartETag(1, etag1), PartETag(1, etag1)],
        "empty": [],
        "small middle part": [PartETag(1, etag1), PartETag(2, etag2), PartETag(3, etag3)],
    }[case]
    with pytest.raises(InvalidParts):
        await storage.complete_multipart(KEY, upload_id=upload_id, parts=given)
    assert await storage.head(KEY) is None

    # A refused completion leaves the upload as it was: it can still be completed correctly.
    assert len(await storage.list_parts(KEY, upload_id=upload_id)) == 3
    await storage.complete_multipart(
        KEY, upload_id=upload_id, parts=[PartETag(1, etag1), PartETag(2, etag2)]
    )
    assert await read_all(storage, KEY) == big + b"small"


# -- optional capabilities -------------------------------------------------------------------


async def test_object_listing_pages_keys_by_prefix_and_age(
    storage_backend: BackendUnderTest,
) -> None:
    listing = storage_backend.storage.capabilities.object_listing
    # Both backends list their objects: the orphaned-object sweep depends on it.
    assert listing is not None, f"{storage_backend.name} does not list its objects"
    await put_object(storage_backend, "proj_a/one.txt", b"1", "text/plain")
    await put_object(storage_backend, "proj_a/deep/two.txt", b"2", "text/plain")
    await put_object(storage_backend, "proj_b/three.txt", b"3", "text/plain")
    later = datetime.now(UTC) + timedelta(minutes=1)

    pages = [page async for page in listing.stored_keys(prefix="proj_a/", modified_before=later)]
    assert sorted(key for page in pages for key in page) == [
        "proj_a/deep/two.txt",
        "proj_a/one.txt",
    ]
    earlier = datetime.now(UTC) - timedelta(minutes=1)
    pages = [page async for page in listing.stored_keys(prefix="proj_", modified_before=earlier)]
    assert [key for page in pages for key in page] == []
