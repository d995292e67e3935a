"""The single-PUT upload flow end to end: request → PUT real bytes → complete → CDN."""

from __future__ import annotations

import asyncio
import hashlib
import os
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select, update

from tests.conftest import make_account
from tests.support.api import assert_error
from tests.support.fixtures import with_route
from tests.support.uploads import complete, create_route, request_upload, upload_file
from uploadkit_server.clock import utcnow
from uploadkit_server.core.accounts.service import NewAccount
from uploadkit_server.db.models import Account, File, Tier, UploadEvent, UsageMonth
from uploadkit_server.runtime import Runtime

MIB = 1024 * 1024


route_fields = with_route(maxFileSize="8MB", allowedTypes=["image/*", "text/plain"])


async def storage_bytes(runtime: Runtime, account_id: str) -> int:
    async with runtime.sessionmaker() as session:
        account = await session.get(Account, account_id)
        assert account is not None
        return account.storage_bytes


async def test_round_trip_is_byte_exact(
    client: httpx.AsyncClient,
    route: dict[str, Any],
    live_headers: dict[str, str],
    account: NewAccount,
    runtime: Runtime,
) -> None:
    data = os.urandom(300_000)
    ticket = await request_upload(
        client, live_headers, size=len(data), name="holiday photo.jpg", metadata={"userId": "u1"}
    )
    assert ticket.status_code == 200, ticket.text
    body = ticket.json()
    assert set(body) == {"fileId", "uploadUrl", "key", "cdnUrl"}
    assert body["fileId"].startswith("file_")
    assert body["key"].startswith(f"{account.project.id}/files/")
    assert body["key"].endswith("/holiday_photo.jpg")
    assert body["cdnUrl"] == f"http://testserver/cdn/{body['key']}"

    put = await client.put(body["uploadUrl"], content=data, headers={"content-type": "image/jpeg"})
    assert put.status_code in (200, 201, 204), put.text

    done = await client.post(
        "/api/v1/upload/complete",
        json={"fileId": body["fileId"], "metadata": {"album": "a"}},
        headers=live_headers,
    )
    assert done.status_code == 200, done.text
    file = done.json()
    assert file["status"] == "UPLOADED"
    assert file["id"] == body["fileId"]
    assert file["key"] == body["key"]
    assert file["url"] == body["cdnUrl"]
    assert file["fileName"] == "holiday photo.jpg"
    assert file["fileSize"] == len(data)
    assert file["contentType"] == "image/jpeg"
    assert file["routeSlug"] == "files"
    assert file["metadata"] == {"userId": "u1", "album": "a"}

    served = await client.get(body["cdnUrl"])
    assert served.status_code == 200
    assert hashlib.sha256(served.content).digest() == hashlib.sha256(data).digest()
    assert served.headers["content-type"].startswith("image/jpeg")
    assert await storage_bytes(runtime, account.account.id) == len(data)


async def test_complete_is_idempotent(
    client: httpx.AsyncClient,
    route: dict[str, Any],
    live_headers: dict[str, str],
    account: NewAccount,
    runtime: Runtime,
) -> None:
    file = await upload_file(client, live_headers, b"hello", content_type="text/plain")
    again = await asyncio.gather(
        *[
            client.post(
                "/api/v1/upload/complete", json={"fileId": file["id"]}, headers=live_headers
            )
            for _ in range(5)
        ]
    )
    for response in again:
        assert response.status_code == 200, response.text
        assert response.json() == file
    async with runtime.sessionmaker() as session:
        usage = (
            await session.scalars(
                select(UsageMonth).where(UsageMonth.account_id == account.account.id)
            )
        ).all()
        events = (
            await session.scalars(select(UploadEvent).where(UploadEvent.file_id == file["id"]))
        ).all()
    assert [(u.uploads, u.uploads_in_flight) for u in usage] == [(1, 0)]
    assert [e.event for e in events] == ["uploaded"]
    assert await storage_bytes(runtime, account.account.id) == 5


async def test_validation_order_and_codes(
    client: httpx.AsyncClient, route: dict[str, Any], live_headers: dict[str, str]
) -> None:
    # 1. body schema
    for bad in (
        {"fileName": "", "fileSize": 1, "contentType": "image/png", "routeSlug": "files"},
        {"fileName": "a" * 256, "fileSize": 1, "contentType": "image/png", "routeSlug": "files"},
        {"fileName": "a.png", "fileSize": 0, "contentType": "image/png", "routeSlug": "files"},
        {"fileName": "a.png", "fileSize": "big", "contentType": "image/png", "routeSlug": "files"},
        {"fileName": "a.png", "fileSize": 1, "contentType": "png", "routeSlug": "files"},
        {"fileName": "a.png", "fileSize": 1, "contentType": "image/png"},
        {
            "fileName": "a.png",
            "fileSize": 1,
            "contentType": "image/png",
            "routeSlug": "files",
            "metadata": [],
        },
    ):
        assert_error(
            await client.post("/api/v1/upload/request", json=bad, headers=live_headers),
            400,
            "VALIDATION_ERROR",
        )
    # 2. route exists — checked before type and size
    response = await request_upload(
        client, live_headers, size=10**12, content_type="video/mp4", route="nope"
    )
    assert_error(response, 404, "NOT_FOUND")
    # 3. type — checked before size
    response = await request_upload(client, live_headers, size=10**12, content_type="video/mp4")
    assert_error(response, 415, "FILE_TYPE_NOT_ALLOWED")
    # 4. size: route limit 8 MiB on a PRO account
    response = await request_upload(client, live_headers, size=8 * MIB + 1)
    error = assert_error(response, 413, "FILE_TOO_LARGE")
    assert error["message"] == f"File size {8 * MIB + 1} bytes exceeds the {8 * MIB} byte limit"
    assert (await request_upload(client, live_headers, size=8 * MIB)).status_code == 200


async def test_tier_max_file_size_wins_over_route(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    free = await make_account(runtime, email="free@example.com", tier=Tier.FREE)
    headers = {"x-api-key": free.live_key}
    await create_route(client, headers, free.project.id, maxFileSize="1GB")
    response = await request_upload(client, headers, size=6291456)
    error = assert_error(response, 413, "FILE_TOO_LARGE")
    assert error["message"] == "File size 6291456 bytes exceeds the 4194304 byte limit"
    assert "billing" in error["suggestion"]


async def test_complete_before_the_put_keeps_the_upload_waiting(
    client: httpx.AsyncClient,
    route: dict[str, Any],
    live_headers: dict[str, str],
    account: NewAccount,
    runtime: Runtime,
) -> None:
    """Issue 12 finding 11 (newer than the SPEC's "missing object → 422"): while the URL is
    valid a missing object means the PUT has not finished, so the upload keeps waiting."""
    data = b"x" * 1000
    ticket = (
        await request_upload(client, live_headers, size=len(data), content_type="text/plain")
    ).json()
    early = await complete(client, live_headers, ticket["fileId"])
    error = assert_error(early, 409, "UPLOAD_INCOMPLETE")
    assert "PUT" in error["suggestion"]
    assert await storage_bytes(runtime, account.account.id) == 1000  # still reserved
    async with runtime.sessionmaker() as session:
        file = await session.scalar(select(File).where(File.id == ticket["fileId"]))
        assert file is not None and file.status == "UPLOADING"

    put = await client.put(
        ticket["uploadUrl"], content=data, headers={"content-type": "text/plain"}
    )
    assert put.status_code == 200, put.text
    done = await complete(client, live_headers, ticket["fileId"])
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "UPLOADED"
    assert (await client.get(f"/cdn/{ticket['key']}")).content == data


async def test_missing_object_after_the_url_expired_fails_and_releases(
    client: httpx.AsyncClient,
    route: dict[str, Any],
    live_headers: dict[str, str],
    account: NewAccount,
    runtime: Runtime,
) -> None:
    ticket = (await request_upload(client, live_headers, size=1000)).json()
    assert await storage_bytes(runtime, account.account.id) == 1000
    # Nothing was PUT, and the URL expired longer ago than a PUT it admitted could still run.
    async with runtime.sessionmaker() as session, session.begin():
        await session.execute(
            update(File)
            .where(File.id == ticket["fileId"])
            .values(expires_at=utcnow() - timedelta(hours=1))
        )
    response = await complete(client, live_headers, ticket["fileId"])
    assert_error(response, 422, "UPLOAD_NOT_VERIFIED")
    assert await storage_bytes(runtime, account.account.id) == 0
    async with runtime.sessionmaker() as session:
        file = await session.scalar(select(File).where(File.id == ticket["fileId"]))
        assert file is not None and file.status == "FAILED"
    # Asking again keeps saying so, and counts nothing.
    again = await complete(client, live_headers, ticket["fileId"])
    assert_error(again, 422, "UPLOAD_NOT_VERIFIED")
    assert await storage_bytes(runtime, account.account.id) == 0


async def test_stored_type_mismatch_is_not_verified(
    client: httpx.AsyncClient, route: dict[str, Any], live_headers: dict[str, str], runtime: Runtime
) -> None:
    ticket = (await request_upload(client, live_headers, size=4, content_type="image/png")).json()
    # A URL signed for the same key but another type, as a misbehaving storage might accept.
    rogue = await runtime.storage.presign_put(
        ticket["key"], content_type="text/plain", content_length=4, expires_in=60
    )
    assert (
        await client.put(rogue, content=b"abcd", headers={"content-type": "text/plain"})
    ).status_code < 300
    response = await complete(client, live_headers, ticket["fileId"])
    error = assert_error(response, 422, "UPLOAD_NOT_VERIFIED")
    assert "content type" in error["message"]
    assert await runtime.storage.head(ticket["key"]) is None


async def test_unknown_or_foreign_file_id_is_upload_not_found(
    client: httpx.AsyncClient,
    route: dict[str, Any],
    live_headers: dict[str, str],
    test_headers: dict[str, str],
    runtime: Runtime,
) -> None:
    ticket = (await request_upload(client, live_headers, size=10)).json()
    assert_error(
        await complete(client, live_headers, "file_nope"),
        404,
        "UPLOAD_NOT_FOUND",
    )
    # The same project's test key cannot complete a live upload.
    assert_error(
        await complete(client, test_headers, ticket["fileId"]),
        404,
        "UPLOAD_NOT_FOUND",
    )
    other = await make_account(runtime, email="other@example.com")
    assert_error(
        await client.post(
            "/api/v1/upload/complete",
            json={"fileId": ticket["fileId"]},
            headers={"x-api-key": other.live_key},
        ),
        404,
        "UPLOAD_NOT_FOUND",
    )


async def test_path_escaping_names_are_sanitised(
    client: httpx.AsyncClient,
    route: dict[str, Any],
    live_headers: dict[str, str],
    account: NewAccount,
    settings: object,
) -> None:
    for name in (
        "../../../etc/passwd",
        "/abs/path.txt",
        "..\\..\\win.txt",
        "..",
        "名前.txt",
    ):
        file = await upload_file(client, live_headers, b"x", name=name, content_type="text/plain")
        key = file["key"]
        assert ".." not in key.split("/")
        assert not key.startswith("/")
        assert all(ord(ch) >= 32 for ch in key)
        assert key.startswith(f"{account.project.id}/files/")
        assert file["fileName"] == name  # the original name is kept as data, not as a path
        assert (await client.get(file["url"])).content == b"x"


async def test_concurrent_requests_never_exceed_storage_quota(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    free = await make_account(runtime, email="quota@example.com", tier=Tier.FREE)
    headers = {"x-api-key": free.live_key}
    await create_route(client, headers, free.project.id, maxFileSize="4MB")
    limit = 5 * 1024**3
    async with runtime.sessionmaker() as session, session.begin():
        await session.execute(
            update(Account)
            .where(Account.id == free.account.id)
            .values(storage_bytes=limit - 10 * MIB)
        )
    responses = await asyncio.gather(
        *[request_upload(client, headers, size=4 * MIB, name=f"f{i}.jpg") for i in range(8)]
    )
    codes = sorted(r.status_code for r in responses)
    assert codes == [200, 200] + [403] * 6, [r.text for r in responses]
    for r in responses:
        if r.status_code == 403:
            assert r.json()["error"]["code"] == "TIER_LIMIT_EXCEEDED"
    assert await storage_bytes(runtime, free.account.id) == limit - 2 * MIB


async def test_concurrent_requests_never_exceed_monthly_uploads(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    from uploadkit_server.clock import month_of, utcnow
    from uploadkit_server.core.usage.repository import ensure_usage_month

    free = await make_account(runtime, email="monthly@example.com", tier=Tier.FREE)
    headers = {"x-api-key": free.live_key}
    await create_route(client, headers, free.project.id)
    month = month_of(utcnow())
    async with runtime.sessionmaker() as session, session.begin():
        await ensure_usage_month(session, account_id=free.account.id, is_test=False, month=month)
        await session.execute(
            update(UsageMonth).where(UsageMonth.account_id == free.account.id).values(uploads=997)
        )
    responses = await asyncio.gather(*[request_upload(client, headers, size=10) for _ in range(8)])
    assert sorted(r.status_code for r in responses) == [200] * 3 + [403] * 5
    # A refused request holds no storage either: its transaction rolled back whole.
    assert await storage_bytes(runtime, free.account.id) == 3 * 10
    # Test mode counts nothing and is never limited.
    test_headers = {"x-api-key": free.test_key}
    assert (await request_upload(client, test_headers, size=10)).status_code == 200


async def test_test_mode_keys_are_sandboxed(
    client: httpx.AsyncClient,
    route: dict[str, Any],
    test_headers: dict[str, str],
    account: NewAccount,
    runtime: Runtime,
) -> None:
    file = await upload_file(client, test_headers, b"sandbox", content_type="text/plain")
    assert file["key"].startswith(f"{account.project.id}/_test/files/")
    assert await storage_bytes(runtime, account.account.id) == 0


async def test_control_characters_and_nul_are_refused(
    client: httpx.AsyncClient, route: dict[str, Any], live_headers: dict[str, str]
) -> None:
    for name in ("a\x00b.txt", "tab\there.txt", "bell\x07.txt"):
        response = await request_upload(client, live_headers, size=1, name=name)
        assert_error(response, 400, "VALIDATION_ERROR")
    nul_slug = await request_upload(client, live_headers, size=1, route="fi\x00les")
    assert_error(nul_slug, 400, "VALIDATION_ERROR")
    in_path = await client.get("/api/v1/routers/route_%00x", headers=live_headers)
    assert_error(in_path, 400, "VALIDATION_ERROR")
    in_query = await client.get(
        "/api/v1/upload/multipart/parts?fileId=file_%00&uploadId=x", headers=live_headers
    )
    assert_error(in_query, 400, "VALIDATION_ERROR")
