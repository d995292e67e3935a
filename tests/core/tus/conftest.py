"""``tus_store``: every ``TusStore`` under the same contract tests.

Each store is an entry of ``STORES``: a name and an async context manager that yields a
``StoreUnderTest``: the tus store, the storage backend it finishes into, a second store
instance on the same data (what another server process sees), and how to list what the store
still holds. To add a store, write one factory and add it:

    @asynccontextmanager
    async def other_store(tmp_path: Path) -> AsyncIterator[StoreUnderTest]:
        ...  # its storage backend, and two instances of the store on the same data

    STORES["other"] = other_store
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.s3server import dummy_aws_credentials, fresh_bucket, shared_s3_server
from uploadkit_server.core.tus.local_store import LocalTusStore
from uploadkit_server.core.tus.s3_store import S3TusStore
from uploadkit_server.core.tus.store import TusStore
from uploadkit_server.storage.base import StorageBackend
from uploadkit_server.storage.local import LocalStorage


@dataclass
class StoreUnderTest:
    name: str
    store: TusStore
    #: Another instance on the same data, with none of the first one's in-memory state.
    other_process: TusStore
    storage: StorageBackend
    #: Descriptions of whatever the store still holds for unfinished uploads.
    leftovers: Callable[[], Awaitable[list[str]]]


@asynccontextmanager
async def local_store(tmp_path: Path) -> AsyncIterator[StoreUnderTest]:
    storage = LocalStorage(tmp_path / "storage", "contract-secret", "http://testserver")
    root = tmp_path / "storage" / "tus"

    async def leftovers() -> list[str]:
        return sorted(path.name for path in root.glob("*")) if root.exists() else []

    yield StoreUnderTest(
        "local",
        LocalTusStore(root, adopt_file=storage.adopt_file),
        LocalTusStore(root, adopt_file=storage.adopt_file),
        storage,
        leftovers,
    )


@asynccontextmanager
async def s3_store(tmp_path: Path) -> AsyncIterator[StoreUnderTest]:
    """Two ``S3TusStore`` on ``S3Storage`` over a fresh bucket of moto's S3 server."""
    with dummy_aws_credentials():
        async with fresh_bucket(shared_s3_server()) as bucket:
            storage = bucket.storage()
            first, second = S3TusStore(storage), S3TusStore(storage)

            async def leftovers() -> list[str]:
                uploads = await bucket.client.list_multipart_uploads(Bucket=bucket.name)
                tails = await bucket.client.list_objects_v2(Bucket=bucket.name, Prefix="_tus")
                return [
                    *(f"multipart upload of {u['Key']}" for u in uploads.get("Uploads", [])),
                    *(f"object {o['Key']}" for o in tails.get("Contents", [])),
                ]

            try:
                yield StoreUnderTest("s3", first, second, storage, leftovers)
            finally:
                await first.close()
                await second.close()
                await storage.close()


STORES: dict[str, Callable[[Path], AbstractAsyncContextManager[StoreUnderTest]]] = {
    "local": local_store,
    "s3": s3_store,
}


@pytest.fixture(params=sorted(STORES))
async def tus_store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[StoreUnderTest]:
    async with STORES[request.param](tmp_path) as under_test:
        yield under_test
