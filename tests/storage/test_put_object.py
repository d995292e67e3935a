"""``StorageBackend.put_object``, the one write the server makes itself (image transform
variants), under the same contract on every backend in ``conftest.BACKENDS``."""

from __future__ import annotations

import os

from tests.storage.conftest import BackendUnderTest
from uploadkit_server.storage.base import ByteRange

KEY = "_transforms/file_x/variant.webp"


async def test_put_object_stores_bytes_type_and_etag(storage_backend: BackendUnderTest) -> None:
    storage = storage_backend.storage
    data = os.urandom(300_000)

    info = await storage.put_object(KEY, data, content_type="image/webp")

    assert info.size == len(data) and info.content_type == "image/webp"
    assert info.etag == storage_backend.content_etag(data)
    head = await storage.head(KEY)
    assert head is not None
    assert (head.size, head.content_type, head.etag) == (len(data), "image/webp", info.etag)
    assert b"".join([chunk async for chunk in storage.read(KEY)]) == data
    ranged = storage.read(KEY, byte_range=ByteRange(start=5, end=14))
    assert b"".join([chunk async for chunk in ranged]) == data[5:15]
    assert await storage_backend.leftovers() == []


async def test_put_object_replaces_and_delete_many_removes(
    storage_backend: BackendUnderTest,
) -> None:
    storage = storage_backend.storage
    await storage.put_object(KEY, b"first", content_type="image/png")
    await storage.put_object(KEY, b"second!", content_type="image/avif")
    other = KEY.replace("variant", "other")
    await storage.put_object(other, b"x", content_type="image/jpeg")

    head = await storage.head(KEY)
    assert head is not None and (head.size, head.content_type) == (7, "image/avif")
    await storage.delete_many([KEY, other])
    assert await storage.head(KEY) is None and await storage.head(other) is None
