"""Abandoned uploads: failed by the background job, storage cleaned, reservations released."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import select, update

from tests.support.api import assert_error
from tests.support.uploads import complete, create_route, request_upload
from uploadkit_server.clock import utcnow
from uploadkit_server.core.accounts.service import NewAccount
from uploadkit_server.db.models import Account, File, UsageMonth
from uploadkit_server.jobs.expiry import expire_abandoned_uploads
from uploadkit_server.runtime import Runtime

MIB = 1024 * 1024


async def test_abandoned_single_and_multipart_uploads_expire(
    client: httpx.AsyncClient, account: NewAccount, live_headers: dict[str, str], runtime: Runtime
) -> None:
    await create_route(client, live_headers, account.project.id, maxFileSize="64MB")
    single = (await request_upload(client, live_headers, size=3)).json()
    assert (
        await client.put(
            single["uploadUrl"], content=b"abc", headers={"content-type": "image/jpeg"}
        )
    ).status_code < 300
    multi = (
        await client.post(
            "/api/v1/upload/multipart/init",
            json={
                "fileName": "big.bin",
                "fileSize": 6 * MIB,
                "contentType": "image/jpeg",
                "routeSlug": "files",
            },
            headers=live_headers,
        )
    ).json()
    part = await client.put(multi["parts"][0]["uploadUrl"], content=b"p" * (5 * MIB))
    assert part.status_code < 300
    fresh = (await request_upload(client, live_headers, size=7)).json()

    # Nothing is old enough yet.
    assert await expire_abandoned_uploads(runtime) == 0

    grace = runtime.settings.upload_grace_period
    async with runtime.sessionmaker() as session, session.begin():
        await session.execute(
            update(File)
            .where(File.id.in_([single["fileId"], multi["fileId"]]))
            .values(expires_at=utcnow() - timedelta(seconds=grace + 1))
        )
    assert await expire_abandoned_uploads(runtime) == 2
    assert await expire_abandoned_uploads(runtime) == 0  # cleaned once

    assert await runtime.storage.head(single["key"]) is None
    from uploadkit_server.storage.base import ObjectNotFound

    try:
        parts = await runtime.storage.list_parts(multi["key"], upload_id=multi["uploadId"])
    except ObjectNotFound:
        parts = []
    assert parts == []

    async with runtime.sessionmaker() as session:
        statuses = {row[0]: row[1] for row in await session.execute(select(File.id, File.status))}
        account_row = await session.get(Account, account.account.id)
        usage = (await session.scalars(select(UsageMonth))).all()
    assert statuses[single["fileId"]] == "FAILED"
    assert statuses[multi["fileId"]] == "FAILED"
    assert statuses[fresh["fileId"]] == "UPLOADING"
    assert account_row is not None and account_row.storage_bytes == 7
    assert sum(u.uploads_in_flight for u in usage) == 1

    for file_id in (single["fileId"],):
        response = await complete(client, live_headers, file_id)
        assert_error(response, 404, "UPLOAD_NOT_FOUND")
