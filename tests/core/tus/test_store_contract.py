"""The contract every ``TusStore`` honours (see ``conftest.py`` for how to add a store)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator

import pytest

from tests.core.tus.conftest import StoreUnderTest
from uploadkit_server.core.tus.store import (
    ChunkChecksum,
    ChunkChecksumMismatch,
    ChunkTooLong,
    StoredUploadGone,
)

KEY = "proj_x/files/abc/photo.bin"
TYPE = "application/octet-stream"


async def body(*pieces: bytes) -> AsyncIterator[bytes]:
    for piece in pieces:
        yield piece


async def stored(under_test: StoreUnderTest, key: str = KEY) -> bytes:
    return b"".join([chunk async for chunk in under_test.storage.read(key)])


def sha(algorithm: str, data: bytes) -> ChunkChecksum:
    return ChunkChecksum(algorithm, hashlib.new(algorithm, data).digest())


async def test_appended_chunks_finish_into_one_object(tus_store: StoreUnderTest) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    store = tus_store.store
    ref = (await store.create(key=KEY, content_type=TYPE)).ref
    offset = 0
    for size in (1000, 2 * 1024 * 1024, len(data)):
        piece = data[offset:size]
        kept = await store.append(ref, offset=offset, chunks=body(piece), max_bytes=len(data))
        assert kept == len(piece)
        offset += kept
    finished = await store.finish(ref, key=KEY, content_type=TYPE, size=len(data))
    assert finished.size == len(data)
    assert finished.sha256 == hashlib.sha256(data).hexdigest()
    assert await stored(tus_store) == data
    info = await tus_store.storage.head(KEY)
    assert info is not None and info.size == len(data) and info.content_type == TYPE
    assert await tus_store.leftovers() == []


async def test_odd_sized_chunks_across_many_parts(tus_store: StoreUnderTest) -> None:
    data = os.urandom(11 * 1024 * 1024 + 3)
    store = tus_store.store
    ref = (await store.create(key=KEY, content_type=TYPE)).ref
    offset = 0
    for size in (1, 4 * 1024 * 1024, 3 * 1024 * 1024 + 5, 1000, len(data)):
        end = min(size + offset, len(data)) if size != len(data) else len(data)
        pieces = [data[i : min(i + 700_000, end)] for i in range(offset, end, 700_000)]
        offset += await store.append(
            ref, offset=offset, chunks=body(*pieces), max_bytes=len(data) - offset
        )
    assert offset == len(data)
    finished = await store.finish(ref, key=KEY, content_type=TYPE, size=len(data))
    assert finished.sha256 == hashlib.sha256(data).hexdigest()
    assert await stored(tus_store) == data
    assert await tus_store.leftovers() == []


async def test_bytes_past_the_offset_are_dropped_before_appending(
    tus_store: StoreUnderTest,
) -> None:
    store = tus_store.store
    ref = (await store.create(key=KEY, content_type=TYPE)).ref
    await store.append(ref, offset=0, chunks=body(b"hello, unrecorded tail"), max_bytes=100)
    # The service recorded only 7 bytes (a crash lost the rest): the next append is at 7.
    await store.append(ref, offset=7, chunks=body(b"world"), max_bytes=100)
    finished = await store.finish(ref, key=KEY, content_type=TYPE, size=12)
    assert await stored(tus_store) == b"hello, world"
    assert finished.sha256 == hashlib.sha256(b"hello, world").hexdigest()


@pytest.mark.parametrize("algorithm", ["sha1", "sha256", "md5"])
async def test_a_chunk_is_kept_only_if_it_matches_its_checksum(
    tus_store: StoreUnderTest, algorithm: str
) -> None:
    store = tus_store.store
    ref = (await store.create(key=KEY, content_type=TYPE)).ref
    first, second = b"a" * 5000, b"b" * 7000
    assert await store.append(
        ref, offset=0, chunks=body(first), max_bytes=12_000, checksum=sha(algorithm, first)
    ) == len(first)
    corrupted = second[:100] + b"c" + second[101:]
    with pytest.raises(ChunkChecksumMismatch):
        await store.append(
            ref,
            offset=5000,
            chunks=body(corrupted[:3000], corrupted[3000:]),
            max_bytes=7000,
            checksum=sha(algorithm, second),
        )
    await store.append(
        ref, offset=5000, chunks=body(second), max_bytes=7000, checksum=sha(algorithm, second)
    )
    finished = await store.finish(ref, key=KEY, content_type=TYPE, size=12_000)
    assert await stored(tus_store) == first + second
    assert finished.sha256 == hashlib.sha256(first + second).hexdigest()


async def test_a_body_past_the_limit_is_dropped_whole(tus_store: StoreUnderTest) -> None:
    store = tus_store.store
    ref = (await store.create(key=KEY, content_type=TYPE)).ref
    with pytest.raises(ChunkTooLong):
        await store.append(ref, offset=0, chunks=body(b"x" * 600, b"x" * 600), max_bytes=1000)
    await store.append(ref, offset=0, chunks=body(b"y" * 1000), max_bytes=1000)
    await store.finish(ref, key=KEY, content_type=TYPE, size=1000)
    assert await stored(tus_store) == b"y" * 1000


async def test_a_body_that_ends_early_keeps_what_arrived(tus_store: StoreUnderTest) -> None:
    store = tus_store.store
    ref = (await store.create(key=KEY, content_type=TYPE)).ref
    assert await store.append(ref, offset=0, chunks=body(b"partial"), max_bytes=1000) == 7
    assert await store.append(ref, offset=7, chunks=body(b" rest"), max_bytes=993) == 5
    await store.finish(ref, key=KEY, content_type=TYPE, size=12)
    assert await stored(tus_store) == b"partial rest"


async def test_another_process_continues_and_finishes_an_upload(
    tus_store: StoreUnderTest,
) -> None:
    data = os.urandom(7 * 1024 * 1024 + 5)
    ref = (await tus_store.store.create(key=KEY, content_type=TYPE)).ref
    await tus_store.store.append(ref, offset=0, chunks=body(data[:1_000_000]), max_bytes=len(data))
    other = tus_store.other_process
    await other.append(
        ref, offset=1_000_000, chunks=body(data[1_000_000:]), max_bytes=len(data) - 1_000_000
    )
    finished = await other.finish(ref, key=KEY, content_type=TYPE, size=len(data))
    assert finished.sha256 == hashlib.sha256(data).hexdigest()
    assert await stored(tus_store) == data


async def test_discard_removes_everything_and_is_idempotent(tus_store: StoreUnderTest) -> None:
    store = tus_store.store
    ref = (await store.create(key=KEY, content_type=TYPE)).ref
    await store.append(ref, offset=0, chunks=body(b"abc"), max_bytes=10)
    assert await tus_store.leftovers() != []
    await store.discard(ref)
    await store.discard(ref)
    await store.discard("unknown-handle")
    assert await tus_store.leftovers() == []
    with pytest.raises(StoredUploadGone):
        await store.append(ref, offset=3, chunks=body(b"d"), max_bytes=10)
    with pytest.raises(StoredUploadGone):
        await store.finish(ref, key=KEY, content_type=TYPE, size=3)
    assert await tus_store.storage.head(KEY) is None


async def test_finishing_twice_reports_the_upload_gone(tus_store: StoreUnderTest) -> None:
    store = tus_store.store
    ref = (await store.create(key=KEY, content_type=TYPE)).ref
    await store.append(ref, offset=0, chunks=body(b"once"), max_bytes=4)
    await store.finish(ref, key=KEY, content_type=TYPE, size=4)
    with pytest.raises(StoredUploadGone):
        await store.finish(ref, key=KEY, content_type=TYPE, size=4)
    assert await stored(tus_store) == b"once"
