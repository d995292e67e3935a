"""The sweep of multipart uploads the bucket holds but no upload record tracks any more, with
the app on ``STORAGE=s3`` against moto's S3 server (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from tests.support.fixtures import with_s3_settings
from tests.support.s3server import S3Bucket
from tests.support.tus import tus_create
from tests.support.uploads import create_route
from uploadkit_server.core.accounts.service import NewAccount
from uploadkit_server.db.models import File, FileStatus
from uploadkit_server.jobs.orphaned_multipart import OrphanedMultipartSweep
from uploadkit_server.jobs.schedule import background_jobs
from uploadkit_server.runtime import Runtime

pytestmark = pytest.mark.s3

MIB = 1024 * 1024


settings_overrides = with_s3_settings()


class Clock:
    """moto reports every upload as started on 2010-11-10, so "now" is any later moment."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


async def init_multipart(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/upload/multipart/init",
        json={
            "fileName": "movie.mp4",
            "fileSize": 6 * MIB,
            "contentType": "video/mp4",
            "routeSlug": "files",
        },
        headers=headers,
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def pending(bucket: S3Bucket) -> set[tuple[str, str]]:
    listing = await bucket.client.list_multipart_uploads(Bucket=bucket.name)
    return {(u["Key"], u["UploadId"]) for u in listing.get("Uploads", [])}


async def test_sweep_aborts_only_untracked_server_uploads(
    client: httpx.AsyncClient,
    account: NewAccount,
    live_headers: dict[str, str],
    runtime: Runtime,
    s3_bucket: S3Bucket,
) -> None:
    await create_route(client, live_headers, account.project.id, maxFileSize="64MB")
    in_flight = await init_multipart(client, live_headers)
    async with httpx.AsyncClient(timeout=30) as s3_http:
        part = await s3_http.put(in_flight["parts"][0]["uploadUrl"], content=b"p" * 5 * MIB)
    assert part.status_code == 200
    failed = await init_multipart(client, live_headers)
    storage = runtime.storage
    # A request that failed after storage started its upload: no row names it.
    never_committed = "proj_gone/files/abc/clip.mp4"
    orphan_id = await storage.create_multipart(never_committed, content_type="video/mp4")
    # Not the server's: another application sharing the bucket.
    foreign_id = await storage.create_multipart("backups/db.tar", content_type="x/y")
    # A row marked FAILED whose abort never reached storage.
    async with runtime.sessionmaker() as session, session.begin():
        await session.execute(
            update(File).where(File.id == failed["fileId"]).values(status=FileStatus.FAILED)
        )
    clock = Clock()
    sweep = OrphanedMultipartSweep(every=timedelta(hours=1), clock=clock)

    assert await sweep(runtime) == 2

    assert await pending(s3_bucket) == {
        (in_flight["key"], in_flight["uploadId"]),
        ("backups/db.tar", foreign_id),
    }
    assert orphan_id not in {upload_id for _, upload_id in await pending(s3_bucket)}
    # The tracked upload is intact and can still be listed for resume.
    parts = await client.get(
        "/api/v1/upload/multipart/parts",
        params={"fileId": in_flight["fileId"], "uploadId": in_flight["uploadId"]},
        headers=live_headers,
    )
    assert parts.status_code == 200, parts.text
    assert [p["partNumber"] for p in parts.json()["parts"]] == [1]


async def test_sweep_runs_at_most_once_per_period(runtime: Runtime, s3_bucket: S3Bucket) -> None:
    clock = Clock()
    sweep = OrphanedMultipartSweep(every=timedelta(hours=1), clock=clock)
    assert await sweep(runtime) == 0
    await runtime.storage.create_multipart("proj_x/files/a/one.bin", content_type="x/y")

    clock.now += timedelta(minutes=59)
    assert await sweep(runtime) == 0
    assert len(await pending(s3_bucket)) == 1

    clock.now += timedelta(minutes=1)
    assert await sweep(runtime) == 1
    assert await pending(s3_bucket) == set()


async def test_recent_untracked_uploads_are_left_alone(
    runtime: Runtime, s3_bucket: S3Bucket
) -> None:
    await runtime.storage.create_multipart("proj_x/files/a/new.bin", content_type="x/y")
    clock = Clock()
    clock.now = datetime(2010, 11, 10, 21, 0, tzinfo=UTC)  # 12 minutes after moto's start time
    sweep = OrphanedMultipartSweep(clock=clock)

    assert await sweep(runtime) == 0
    assert len(await pending(s3_bucket)) == 1


def test_the_sweep_is_a_background_job() -> None:
    assert any(isinstance(job, OrphanedMultipartSweep) for job in background_jobs())


@pytest.mark.parametrize("settings_overrides", [{}])
async def test_sweep_does_nothing_on_local_storage(runtime: Runtime) -> None:
    assert await OrphanedMultipartSweep()(runtime) == 0


async def test_a_deferred_length_tus_upload_is_not_swept(
    client: httpx.AsyncClient,
    account: NewAccount,
    live_headers: dict[str, str],
    runtime: Runtime,
    s3_bucket: S3Bucket,
) -> None:
    """Its multipart upload has no file row naming it until the length is declared; its tus
    row keeps it (moto dates every upload 2010, so it is always past the cutoff)."""
    await create_route(client, live_headers, account.project.id, maxFileSize="64MB")
    created = await tus_create(client, live_headers, length=None)
    assert created.status_code == 201, created.text
    [(key, upload_id)] = await pending(s3_bucket)

    assert await OrphanedMultipartSweep(clock=Clock())(runtime) == 0
    assert await pending(s3_bucket) == {(key, upload_id)}
