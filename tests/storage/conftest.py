"""``storage_backend``: every ``StorageBackend`` under the same contract tests.

Each backend is an entry of ``BACKENDS``: a name and an async context manager that yields a
``BackendUnderTest``: the backend, how to PUT bytes to its presigned URLs over real HTTP, and
how to list what it holds besides finished objects (in-flight uploads, temporary files), so the
tests can check that nothing is left behind. To add a backend, write one factory and add it:

    @asynccontextmanager
    async def s3_backend(tmp_path: Path) -> AsyncIterator[BackendUnderTest]:
        ...  # start or reach the S3 test server, make a bucket, yield S3Storage and an httpx PUT

    BACKENDS["s3"] = s3_backend
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import httpx
import pytest

from tests.support.file_records import ensure_waiting
from tests.support.s3server import dummy_aws_credentials, fresh_bucket, shared_s3_server
from uploadkit_server.app import create_app
from uploadkit_server.settings import Settings
from uploadkit_server.storage.base import StorageBackend
from uploadkit_server.storage.local import LocalStorage

HttpPut = Callable[[str, bytes, Mapping[str, str]], Awaitable[httpx.Response]]


@dataclass
class BackendUnderTest:
    name: str
    storage: StorageBackend
    #: PUT ``data`` to a presigned URL with the given headers, as a browser or SDK would.
    http_put: HttpPut
    #: Descriptions of whatever the backend still holds for unfinished uploads.
    leftovers: Callable[[], Awaitable[list[str]]]

    def content_digest(self, data: bytes) -> bytes:
        """What the backend's single-object ETag is the hex of: S3's MD5, the local backend's
        first 128 bits of the SHA-256 it computes anyway (one hash per received byte, not two)."""
        if self.name == "local":
            return hashlib.sha256(data).digest()[:16]
        return hashlib.md5(data).digest()

    def content_etag(self, data: bytes) -> str:
        """The ETag the backend answers for an object of ``data``."""
        return f'"{self.content_digest(data).hex()}"'


def _signed_target(url: str) -> tuple[str, str | None]:
    """The key and upload id (``None`` for a single PUT) a local presigned URL writes to."""
    path = unquote(urlsplit(url).path)
    if path.startswith("/storage/parts/"):
        upload_id, _number, key = path.removeprefix("/storage/parts/").split("/", 2)
        return key, upload_id
    return path.removeprefix("/storage/objects/"), None


@asynccontextmanager
async def local_backend(tmp_path: Path) -> AsyncIterator[BackendUnderTest]:
    """The real app (SQLite, local disk) behind httpx's ASGI transport: the presigned URLs point
    at ``http://testserver/storage/...`` and are served by the public storage endpoint."""
    (tmp_path / "data").mkdir()
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path / "data",
        public_url="http://testserver",
        run_background_jobs=False,
        secret_key="contract-test-secret",
    )
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as http,
    ):
        storage = app.state.runtime.storage
        assert isinstance(storage, LocalStorage)

        async def http_put(url: str, data: bytes, headers: Mapping[str, str]) -> httpx.Response:
            # The app's storage endpoint takes bytes only for a file waiting for them; the
            # contract is about the backend, so each PUT's key is first recorded as in flight.
            key, upload_id = _signed_target(url)
            await ensure_waiting(app.state.runtime.sessionmaker, key, upload_id=upload_id)
            return await http.put(url, content=data, headers=dict(headers))

        async def leftovers() -> list[str]:
            return [
                str(path.relative_to(storage.root))
                for folder in ("tmp", "multipart")
                for path in (storage.root / folder).rglob("*")
            ]

        yield BackendUnderTest("local", storage, http_put, leftovers)


@asynccontextmanager
async def s3_backend(tmp_path: Path) -> AsyncIterator[BackendUnderTest]:
    """``S3Storage`` over HTTP on a fresh bucket of moto's S3 server; bytes PUT with httpx."""
    with dummy_aws_credentials():
        async with (
            fresh_bucket(shared_s3_server()) as bucket,
            httpx.AsyncClient(timeout=30) as http,
        ):
            storage = bucket.storage()

            async def http_put(url: str, data: bytes, headers: Mapping[str, str]) -> httpx.Response:
                return await http.put(url, content=data, headers=dict(headers))

            async def leftovers() -> list[str]:
                listing = await bucket.client.list_multipart_uploads(Bucket=bucket.name)
                return [
                    f"multipart upload {upload['UploadId']} of {upload['Key']}"
                    for upload in listing.get("Uploads", [])
                ]

            try:
                yield BackendUnderTest("s3", storage, http_put, leftovers)
            finally:
                await storage.close()


BACKENDS: dict[str, Callable[[Path], AbstractAsyncContextManager[BackendUnderTest]]] = {
    "local": local_backend,
    "s3": s3_backend,
}

#: Contract tests a backend's test server cannot pass although the real store does, and why.
#: Strict: when the server is fixed, the test passes and the entry must go.
KNOWN_TEST_SERVER_GAPS = {
    ("s3", "test_upload_id_belongs_to_its_key"): (
        "moto looks multipart uploads up by id alone; S3, R2 and MinIO answer NoSuchUpload"
    ),
}


@pytest.fixture(params=sorted(BACKENDS))
async def storage_backend(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[BackendUnderTest]:
    gap = KNOWN_TEST_SERVER_GAPS.get((request.param, request.node.originalname))
    if gap is not None:
        request.applymarker(pytest.mark.xfail(reason=gap, strict=True))
    async with BACKENDS[request.param](tmp_path) as backend:
        yield backend
