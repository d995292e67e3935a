"""The tus 1.0 endpoint through the ASGI app: core protocol, extensions, and that a tus upload
lands in the same file model as the REST flow (checks, usage, webhook)."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from tests.support.api import assert_error
from tests.support.fixtures import with_route, with_settings
from tests.support.tus import (
    OFFSET_STREAM,
    TUS,
    checksum_header,
    png_bytes,
    tus_create,
    tus_patch,
)
from tests.support.uploads import create_route
from uploadkit_server.clock import utcnow
from uploadkit_server.core.accounts.service import NewAccount
from uploadkit_server.db.models import File, FileStatus, TusUpload
from uploadkit_server.jobs.expiry import expire_abandoned_uploads
from uploadkit_server.jobs.tus_expiry import expire_tus_uploads
from uploadkit_server.runtime import Runtime

HOOK = "http://127.0.0.1:9/hook"


# The route's webhook points at loopback; the dispatcher stays off (deliveries stay queued).
settings_overrides = with_settings(webhook_allow_private=True, webhook_dispatcher=False)


route_fields = with_route(maxFileSize="8MB", webhookUrl=HOOK)


async def _usage(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, int]:
    return dict((await client.get("/api/v1/usage", headers=headers)).json())


async def test_options_lists_version_extensions_and_checksums_without_a_key(
    client: httpx.AsyncClient,
) -> None:
    response = await client.options("/api/v1/tus/")
    assert response.status_code == 204
    assert response.headers["tus-version"] == "1.0.0"
    assert set(response.headers["tus-extension"].split(",")) == {
        "creation",
        "creation-with-upload",
        "creation-defer-length",
        "termination",
        "expiration",
        "checksum",
    }
    assert response.headers["tus-checksum-algorithm"].split(",") == ["sha1", "sha256", "md5"]


async def test_chunks_become_an_uploaded_file_counted_with_its_webhook_queued(
    client: httpx.AsyncClient, live_headers: dict[str, str], route: dict[str, Any], runtime: Runtime
) -> None:
    data = png_bytes(300_000)
    created = await tus_create(client, live_headers, length=len(data), album="summer")
    assert created.status_code == 201, created.text
    assert created.headers["tus-resumable"] == "1.0.0"
    location = created.headers["location"]
    assert location.startswith("http://testserver/api/v1/tus/tus_")
    assert "upload-expires" in created.headers
    in_flight = await _usage(client, live_headers)
    assert in_flight["uploadsInFlight"] == 1 and in_flight["storageBytes"] == len(data)

    head = await client.head(location, headers={**live_headers, **TUS})
    assert head.status_code == 200
    assert head.headers["upload-offset"] == "0"
    assert head.headers["upload-length"] == str(len(data))
    assert head.headers["cache-control"] == "no-store"
    assert head.headers["upload-metadata"] == created.request.headers["upload-metadata"]

    offset = 0
    for size in (100_000, 150_000, 50_000):
        patch = await tus_patch(
            client, live_headers, location, data[offset : offset + size], offset=offset
        )
        assert patch.status_code == 204, patch.text
        offset += size
        assert patch.headers["upload-offset"] == str(offset)
    assert "upload-expires" not in patch.headers
    key = patch.headers["uploadkit-file-key"]

    listed = (await client.get("/api/v1/files", headers=live_headers)).json()["items"]
    assert [item["key"] for item in listed] == [key]
    file = listed[0]
    assert file["status"] == "UPLOADED"
    assert file["fileName"] == "photo.png" and file["contentType"] == "image/png"
    assert file["fileSize"] == len(data)
    assert file["metadata"] == {"album": "summer"}
    assert file["sha256"] == hashlib.sha256(data).hexdigest()
    assert file["detectedType"] == "image/png"
    stored = b"".join([chunk async for chunk in runtime.storage.read(key)])
    assert stored == data

    usage = await _usage(client, live_headers)
    assert usage["uploads"] == 1 and usage["uploadsInFlight"] == 0
    assert usage["storageBytes"] == len(data) and usage["bytesUploaded"] == len(data)

    deliveries = (await client.get("/api/v1/webhooks/deliveries", headers=live_headers)).json()[
        "items"
    ]
    assert len(deliveries) == 1 and deliveries[0]["url"] == HOOK
    detail = (
        await client.get(f"/api/v1/webhooks/deliveries/{deliveries[0]['id']}", headers=live_headers)
    ).json()
    assert detail["payload"]["event"] == "onUploadComplete"
    assert detail["payload"]["file"]["key"] == key
    assert detail["payload"]["file"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert detail["payload"]["file"]["detectedType"] == "image/png"

    # A finished upload reports its full offset; an empty PATCH at the end changes nothing.
    head = await client.head(location, headers={**live_headers, **TUS})
    assert head.headers["upload-offset"] == str(len(data))
    assert head.headers["uploadkit-file-key"] == key
    again = await tus_patch(client, live_headers, location, b"", offset=len(data))
    assert again.status_code == 204
    assert (await _usage(client, live_headers))["uploads"] == 1


async def test_creation_with_upload_completes_in_one_request(
    client: httpx.AsyncClient, live_headers: dict[str, str], route: dict[str, Any]
) -> None:
    data = png_bytes(5000)
    created = await tus_create(client, live_headers, length=len(data), body=data)
    assert created.status_code == 201, created.text
    assert created.headers["upload-offset"] == str(len(data))
    key = created.headers["uploadkit-file-key"]
    file = (
        await client.get(f"/api/v1/files/{key.replace('/', '%2F')}", headers=live_headers)
    ).json()
    assert file["status"] == "UPLOADED" and file["sha256"] == hashlib.sha256(data).hexdigest()


async def test_creation_runs_the_same_checks_as_upload_request(
    client: httpx.AsyncClient, account: NewAccount, live_headers: dict[str, str]
) -> None:
    await create_route(
        client, live_headers, account.project.id, maxFileSize="1MB", allowedTypes=["image/*"]
    )
    assert_error(await tus_create(client, live_headers, length=10, route="nope"), 404, "NOT_FOUND")
    assert_error(
        await tus_create(client, live_headers, length=10, content_type="application/pdf"),
        415,
        "FILE_TYPE_NOT_ALLOWED",
    )
    assert_error(
        await tus_create(client, live_headers, length=2 * 1024 * 1024), 413, "FILE_TOO_LARGE"
    )
    assert_error(await tus_create(client, live_headers, length=0), 400, "VALIDATION_ERROR")
    no_route = await client.post(
        "/api/v1/tus/", headers={**live_headers, **TUS, "Upload-Length": "5"}
    )
    assert_error(no_route, 400, "VALIDATION_ERROR")
    no_length = await client.post(
        "/api/v1/tus/", headers={**live_headers, **TUS, "Upload-Metadata": "routeSlug ZmlsZXM="}
    )
    assert_error(no_length, 400, "VALIDATION_ERROR")
    unauthenticated = await tus_create(client, {}, length=10)
    assert_error(unauthenticated, 401, "UNAUTHORIZED")
    assert unauthenticated.headers["tus-resumable"] == "1.0.0"
    # Nothing was reserved by the refused requests.
    usage = await _usage(client, live_headers)
    assert usage["uploadsInFlight"] == 0 and usage["storageBytes"] == 0


async def test_protocol_errors(
    client: httpx.AsyncClient, live_headers: dict[str, str], route: dict[str, Any]
) -> None:
    location = (await tus_create(client, live_headers, length=10)).headers["location"]
    old = await client.head(location, headers={**live_headers, "Tus-Resumable": "0.2.2"})
    assert old.status_code == 412 and old.headers["tus-version"] == "1.0.0"
    wrong_type = await client.patch(
        location,
        headers={**live_headers, **TUS, "Upload-Offset": "0", "Content-Type": "image/png"},
        content=b"x",
    )
    assert_error(wrong_type, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert_error(
        await tus_patch(client, live_headers, location, b"abc", offset=3), 409, "OFFSET_MISMATCH"
    )
    assert_error(
        await tus_patch(client, live_headers, location, b"x" * 11, offset=0),
        413,
        "PAYLOAD_TOO_LARGE",
    )
    head = await client.head(location, headers={**live_headers, **TUS})
    assert head.headers["upload-offset"] == "0"  # a refused body leaves nothing behind
    unknown = await client.head("/api/v1/tus/tus_unknown", headers={**live_headers, **TUS})
    assert unknown.status_code == 404
    # A request without a valid key learns nothing about it.
    other = await client.head(location, headers={**{"x-api-key": ""}, **TUS})
    assert other.status_code == 401


async def test_test_mode_keys_do_not_see_live_uploads(
    client: httpx.AsyncClient,
    live_headers: dict[str, str],
    test_headers: dict[str, str],
    route: dict[str, Any],
) -> None:
    location = (await tus_create(client, live_headers, length=10)).headers["location"]
    assert (await client.head(location, headers={**test_headers, **TUS})).status_code == 404


@pytest.mark.parametrize("algorithm", ["sha1", "sha256", "md5"])
async def test_checksummed_chunks_are_verified_and_a_mismatch_is_discarded(
    client: httpx.AsyncClient, live_headers: dict[str, str], route: dict[str, Any], algorithm: str
) -> None:
    data = png_bytes(20_000)
    location = (await tus_create(client, live_headers, length=len(data))).headers["location"]
    first = data[:12_000]
    good = await tus_patch(
        client,
        live_headers,
        location,
        first,
        offset=0,
        Upload_Checksum=checksum_header(algorithm, first),
    )
    assert good.status_code == 204 and good.headers["upload-offset"] == "12000"

    rest = data[12_000:]
    corrupted = rest[:5000] + bytes([rest[5000] ^ 0x01]) + rest[5001:]
    bad = await tus_patch(
        client,
        live_headers,
        location,
        corrupted,
        offset=12_000,
        Upload_Checksum=checksum_header(algorithm, rest),
    )
    assert_error(bad, 460, "CHECKSUM_MISMATCH")
    head = await client.head(location, headers={**live_headers, **TUS})
    assert head.headers["upload-offset"] == "12000"  # the bad chunk was discarded

    done = await tus_patch(
        client,
        live_headers,
        location,
        rest,
        offset=12_000,
        Upload_Checksum=checksum_header(algorithm, rest),
    )
    assert done.status_code == 204
    key = done.headers["uploadkit-file-key"]
    file = (
        await client.get(f"/api/v1/files/{key.replace('/', '%2F')}", headers=live_headers)
    ).json()
    assert file["sha256"] == hashlib.sha256(data).hexdigest()


async def test_unsupported_or_malformed_checksums_are_refused(
    client: httpx.AsyncClient, live_headers: dict[str, str], route: dict[str, Any]
) -> None:
    location = (await tus_create(client, live_headers, length=10)).headers["location"]
    for header in ("crc32 AAAAAA==", "sha1", "sha1 not-base64!", "md5 AAAA"):
        response = await tus_patch(
            client, live_headers, location, b"x", offset=0, Upload_Checksum=header
        )
        assert_error(response, 400, "VALIDATION_ERROR")


async def test_deferred_length_is_admitted_when_it_arrives(
    client: httpx.AsyncClient, live_headers: dict[str, str], route: dict[str, Any]
) -> None:
    data = png_bytes(9000)
    created = await tus_create(client, live_headers, length=None)
    assert created.status_code == 201, created.text
    location = created.headers["location"]
    head = await client.head(location, headers={**live_headers, **TUS})
    assert head.headers["upload-defer-length"] == "1" and "upload-length" not in head.headers
    # No file record (and no reservation) before the length is known.
    assert (await client.get("/api/v1/files", headers=live_headers)).json()["items"] == []
    first = await tus_patch(client, live_headers, location, data[:4000], offset=0)
    assert first.status_code == 204
    last = await tus_patch(
        client, live_headers, location, data[4000:], offset=4000, Upload_Length=len(data)
    )
    assert last.status_code == 204, last.text
    assert last.headers["upload-offset"] == str(len(data))
    listed = (await client.get("/api/v1/files", headers=live_headers)).json()["items"]
    assert [(f["status"], f["fileSize"]) for f in listed] == [("UPLOADED", len(data))]


async def test_deferred_length_over_the_route_limit_is_refused(
    client: httpx.AsyncClient, live_headers: dict[str, str], route: dict[str, Any]
) -> None:
    location = (await tus_create(client, live_headers, length=None)).headers["location"]
    too_big = await tus_patch(
        client, live_headers, location, b"x", offset=0, Upload_Length=9 * 1024 * 1024
    )
    assert_error(too_big, 413, "FILE_TOO_LARGE")


async def test_termination_removes_the_upload_and_releases_its_reservation(
    client: httpx.AsyncClient, live_headers: dict[str, str], route: dict[str, Any], runtime: Runtime
) -> None:
    location = (await tus_create(client, live_headers, length=100)).headers["location"]
    assert (await tus_patch(client, live_headers, location, b"x" * 40, offset=0)).status_code == 204
    upload_id = location.rsplit("/", 1)[1]
    async with runtime.sessionmaker() as session:
        upload = await session.scalar(select(TusUpload).where(TusUpload.id == upload_id))
        assert upload is not None
    stored = runtime.settings.data_dir / "storage" / "tus" / f"{upload.store_ref}.upload"
    assert stored.stat().st_size == 40

    deleted = await client.delete(location, headers={**live_headers, **TUS})
    assert deleted.status_code == 204
    assert not stored.exists()
    assert (await client.head(location, headers={**live_headers, **TUS})).status_code == 404
    usage = await _usage(client, live_headers)
    assert usage["uploadsInFlight"] == 0 and usage["storageBytes"] == 0
    async with runtime.sessionmaker() as session:
        file = await session.scalar(select(File).where(File.id == upload.file_id))
        assert file is not None and file.status == FileStatus.FAILED


async def test_a_patch_while_another_holds_the_lease_is_locked(
    client: httpx.AsyncClient, live_headers: dict[str, str], route: dict[str, Any], runtime: Runtime
) -> None:
    location = (await tus_create(client, live_headers, length=10)).headers["location"]
    upload_id = location.rsplit("/", 1)[1]
    async with runtime.sessionmaker() as session, session.begin():
        await session.execute(
            update(TusUpload)
            .where(TusUpload.id == upload_id)
            .values(lock_token="other", locked_until=utcnow() + timedelta(seconds=30))
        )
    assert_error(
        await tus_patch(client, live_headers, location, b"abc", offset=0), 423, "UPLOAD_LOCKED"
    )
    assert_error(
        await client.delete(location, headers={**live_headers, **TUS}), 423, "UPLOAD_LOCKED"
    )
    # A lease whose holder died lapses.
    async with runtime.sessionmaker() as session, session.begin():
        await session.execute(
            update(TusUpload)
            .where(TusUpload.id == upload_id)
            .values(locked_until=utcnow() - timedelta(seconds=1))
        )
    assert (await tus_patch(client, live_headers, location, b"abc", offset=0)).status_code == 204


async def test_expired_uploads_are_refused_then_removed_with_their_bytes(
    client: httpx.AsyncClient, live_headers: dict[str, str], route: dict[str, Any], runtime: Runtime
) -> None:
    location = (await tus_create(client, live_headers, length=100)).headers["location"]
    assert (await tus_patch(client, live_headers, location, b"x" * 10, offset=0)).status_code == 204
    fresh = (await tus_create(client, live_headers, length=100)).headers["location"]
    upload_id = location.rsplit("/", 1)[1]
    assert await expire_tus_uploads(runtime) == 0
    past = utcnow() - timedelta(seconds=runtime.settings.upload_grace_period + 1)
    async with runtime.sessionmaker() as session, session.begin():
        upload = await session.scalar(select(TusUpload).where(TusUpload.id == upload_id))
        assert upload is not None and upload.file_id is not None
        upload.expires_at = past
        await session.execute(update(File).where(File.id == upload.file_id).values(expires_at=past))
    stored = runtime.settings.data_dir / "storage" / "tus" / f"{upload.store_ref}.upload"

    expired = await client.head(location, headers={**live_headers, **TUS})
    assert expired.status_code == 410  # HEAD: the envelope's status, without a body
    refused = await tus_patch(client, live_headers, location, b"y", offset=10)
    assert_error(refused, 410, "UPLOAD_EXPIRED")
    assert await expire_tus_uploads(runtime) == 1
    assert await expire_tus_uploads(runtime) == 0
    assert not stored.exists()
    assert (await client.head(location, headers={**live_headers, **TUS})).status_code == 404
    # The file fails and gives back its reservation as any abandoned upload does.
    assert await expire_abandoned_uploads(runtime) == 1
    usage = await _usage(client, live_headers)
    assert usage["uploadsInFlight"] == 1 and usage["storageBytes"] == 100  # only `fresh` left
    assert (await client.head(fresh, headers={**live_headers, **TUS})).status_code == 200


async def test_cors_preflight_and_exposed_tus_headers(
    client: httpx.AsyncClient, live_headers: dict[str, str], route: dict[str, Any]
) -> None:
    origin = {"Origin": "https://app.example.com"}
    preflight = await client.options(
        "/api/v1/tus/",
        headers={
            **origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "tus-resumable,upload-length,x-api-key",
        },
    )
    assert preflight.status_code == 200
    assert "POST" in preflight.headers["access-control-allow-methods"]
    created = await client.post(
        "/api/v1/tus/",
        headers={
            **live_headers,
            **TUS,
            **origin,
            "Upload-Length": "4",
            "Upload-Metadata": "routeSlug ZmlsZXM=",
        },
    )
    assert created.status_code == 201
    exposed = {
        h.strip().lower() for h in created.headers["access-control-expose-headers"].split(",")
    }
    assert {
        "location",
        "upload-offset",
        "upload-length",
        "tus-resumable",
        "upload-expires",
    } <= exposed
    patch = await client.patch(
        created.headers["location"],
        headers={
            **live_headers,
            **TUS,
            **origin,
            "Upload-Offset": "0",
            "Content-Type": OFFSET_STREAM,
        },
        content=b"abcd",
    )
    assert patch.status_code == 204 and patch.headers["access-control-allow-origin"] == "*"
