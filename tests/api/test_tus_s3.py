"""The tus endpoint with ``UPLOADKIT_STORAGE=s3``: the bytes go into an S3 multipart upload on
moto's S3 server, full 5 MiB parts as they arrive and the rest kept beside it."""

from __future__ import annotations

import hashlib
import os
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.support.api import assert_error
from tests.support.fixtures import with_route, with_s3_settings
from tests.support.s3server import S3Bucket
from tests.support.tus import PNG, TUS, checksum_header, tus_create, tus_patch
from uploadkit_server.db.models import File, FileStatus
from uploadkit_server.runtime import Runtime

pytestmark = pytest.mark.s3

MIB = 1024 * 1024


settings_overrides = with_s3_settings()


route_fields = with_route(maxFileSize="64MB")


async def _bucket_state(bucket: S3Bucket) -> tuple[list[str], list[str]]:
    return await bucket.object_keys(), sorted(await bucket.open_multipart_uploads())


async def test_tus_upload_into_s3_with_checksums_and_a_refused_chunk(
    client: httpx.AsyncClient,
    live_headers: dict[str, str],
    route: dict[str, Any],
    runtime: Runtime,
    s3_bucket: S3Bucket,
) -> None:
    data = (PNG + os.urandom(12 * MIB))[: 12 * MIB + 321]
    created = await tus_create(client, live_headers, length=len(data))
    assert created.status_code == 201, created.text
    location = created.headers["location"]
    offset = 0
    for size in (3 * MIB, 4 * MIB, 2 * MIB + 5):
        chunk = data[offset : offset + size]
        if offset == 3 * MIB:  # one corrupted byte: refused, nothing kept, sent again
            bad = chunk[:100] + bytes([chunk[100] ^ 0xFF]) + chunk[101:]
            refused = await tus_patch(
                client, live_headers, location, bad, offset=offset,
                Upload_Checksum=checksum_header("sha256", chunk),
            )  # fmt: skip
            assert_error(refused, 460, "CHECKSUM_MISMATCH")
        patch = await tus_patch(
            client, live_headers, location, chunk, offset=offset,
            Upload_Checksum=checksum_header("sha256", chunk),
        )  # fmt: skip
        assert patch.status_code == 204, patch.text
        offset += size
    objects, uploads = await _bucket_state(s3_bucket)
    assert len(uploads) == 1 and all(key.startswith("_tus-tails/") for key in objects)

    last = await tus_patch(client, live_headers, location, data[offset:], offset=offset)
    assert last.status_code == 204, last.text
    key = last.headers["uploadkit-file-key"]
    objects, uploads = await _bucket_state(s3_bucket)
    assert objects == [key] and uploads == []  # the tail object is gone, the upload complete
    stored = b"".join([chunk async for chunk in runtime.storage.read(key)])
    assert hashlib.sha256(stored).hexdigest() == hashlib.sha256(data).hexdigest()
    file = (
        await client.get(f"/api/v1/files/{key.replace('/', '%2F')}", headers=live_headers)
    ).json()
    assert file["status"] == "UPLOADED" and file["fileSize"] == len(data)
    assert file["sha256"] == hashlib.sha256(data).hexdigest()
    assert file["detectedType"] == "image/png"


async def test_deferred_length_on_s3(
    client: httpx.AsyncClient, live_headers: dict[str, str], route: dict[str, Any]
) -> None:
    data = (PNG + os.urandom(6 * MIB))[: 6 * MIB + 1]
    location = (await tus_create(client, live_headers, length=None)).headers["location"]
    assert (
        await tus_patch(client, live_headers, location, data[:MIB], offset=0)
    ).status_code == 204
    last = await tus_patch(
        client, live_headers, location, data[MIB:], offset=MIB, Upload_Length=len(data)
    )
    assert last.status_code == 204, last.text
    key = last.headers["uploadkit-file-key"]
    file = (
        await client.get(f"/api/v1/files/{key.replace('/', '%2F')}", headers=live_headers)
    ).json()
    assert file["sha256"] == hashlib.sha256(data).hexdigest()


async def test_termination_aborts_the_multipart_upload_and_removes_the_tail(
    client: httpx.AsyncClient,
    live_headers: dict[str, str],
    route: dict[str, Any],
    runtime: Runtime,
    s3_bucket: S3Bucket,
) -> None:
    location = (await tus_create(client, live_headers, length=8 * MIB)).headers["location"]
    data = os.urandom(6 * MIB)
    assert (await tus_patch(client, live_headers, location, data, offset=0)).status_code == 204
    objects, uploads = await _bucket_state(s3_bucket)
    assert len(uploads) == 1 and len(objects) == 1
    async with runtime.sessionmaker() as session:
        file = await session.scalar(select(File).where(File.key == uploads[0]))
        assert file is not None and file.upload_id is not None  # the orphan sweep spares it
    assert (await client.delete(location, headers={**live_headers, **TUS})).status_code == 204
    assert await _bucket_state(s3_bucket) == ([], [])
    async with runtime.sessionmaker() as session:
        file = await session.scalar(select(File).where(File.key == uploads[0]))
        assert file is not None and file.status == FileStatus.FAILED
