"""The sandbox purge: test files older than ``TEST_MODE_TTL`` go, records and objects, and
nothing live is touched."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import func, select

from tests.support.fixtures import with_settings
from tests.support.uploads import create_route, request_upload, upload_file
from uploadkit_server.clock import utcnow
from uploadkit_server.core.accounts.service import NewAccount
from uploadkit_server.db.models import Account, File, UploadEvent, UsageMonth
from uploadkit_server.jobs.schedule import background_jobs
from uploadkit_server.jobs.test_mode_purge import purge_test_mode
from uploadkit_server.runtime import Runtime

TTL = 3600


settings_overrides = with_settings(test_mode_ttl=TTL)


async def test_purge_removes_expired_test_files_and_their_objects(
    client: httpx.AsyncClient,
    runtime: Runtime,
    account: NewAccount,
    live_headers: dict[str, str],
    test_headers: dict[str, str],
) -> None:
    assert purge_test_mode in background_jobs()
    await create_route(client, live_headers, account.project.id, slug="files")
    live = await upload_file(client, live_headers, b"live" * 10, name="live.jpg")
    sandbox = [
        await upload_file(client, test_headers, b"t" * 25, name=f"t{i}.jpg") for i in range(3)
    ]
    pending = (await request_upload(client, test_headers, size=40)).json()
    await client.put(
        pending["uploadUrl"], content=b"p" * 40, headers={"content-type": "image/jpeg"}
    )

    # Younger than the TTL: kept.
    assert await purge_test_mode(runtime, now=utcnow() + timedelta(seconds=TTL - 60)) == 0
    listed = (await client.get("/api/v1/files", headers=test_headers)).json()["items"]
    assert len(listed) == 4

    assert await purge_test_mode(runtime, now=utcnow() + timedelta(seconds=TTL + 1)) == 4

    for key in [f["key"] for f in sandbox] + [pending["key"]]:
        assert await runtime.storage.head(key) is None, key
        response = await client.get(f"/api/v1/files/{quote(key, safe='')}", headers=test_headers)
        assert response.status_code == 404
    assert (await client.get("/api/v1/files", headers=test_headers)).json()["items"] == []
    async with runtime.sessionmaker() as session:
        assert (
            await session.scalar(
                select(func.count()).select_from(File).where(File.is_test.is_(True))
            )
            == 0
        )
        assert (
            await session.scalar(
                select(func.count()).select_from(UploadEvent).where(UploadEvent.is_test.is_(True))
            )
            == 0
        )
        row = await session.get(Account, account.account.id)
        assert row is not None and row.test_storage_bytes == 0 and row.storage_bytes == 40
        in_flight = await session.scalar(
            select(UsageMonth.uploads_in_flight).where(
                UsageMonth.account_id == account.account.id, UsageMonth.is_test.is_(True)
            )
        )
        assert in_flight == 0

    # Live files are never purged.
    assert await runtime.storage.head(live["key"]) is not None
    got = await client.get(f"/api/v1/files/{quote(live['key'], safe='')}", headers=live_headers)
    assert got.status_code == 200
    assert (await client.get("/api/v1/logs", headers=live_headers)).json()["items"]


async def test_purge_works_through_batches(
    client: httpx.AsyncClient,
    runtime: Runtime,
    account: NewAccount,
    live_headers: dict[str, str],
    test_headers: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from uploadkit_server.jobs import test_mode_purge

    monkeypatch.setattr(test_mode_purge, "BATCH", 2)
    await create_route(client, live_headers, account.project.id, slug="files")
    files: list[dict[str, Any]] = [
        await upload_file(client, test_headers, b"b", name=f"b{i}.jpg") for i in range(5)
    ]
    assert await purge_test_mode(runtime, now=utcnow() + timedelta(seconds=TTL + 1)) == 5
    for file in files:
        assert await runtime.storage.head(file["key"]) is None
