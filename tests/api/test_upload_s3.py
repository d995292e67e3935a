"""The upload flow with ``UPLOADKIT_STORAGE=s3``: the app hands out real S3 presigned URLs and
the bytes go over HTTP to moto's S3 server, as a browser would send them to AWS.

moto does not check presigned signatures, so a PUT of another type or size than declared is
stored; these tests show that the server's own verification on complete is what catches it.
"""

from __future__ import annotations

import hashlib
import os
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest
from sqlalchemy import select, update

from tests.support.api import assert_error
from tests.support.fixtures import with_route, with_s3_settings
from tests.support.s3server import S3Bucket, signed_headers
from tests.support.uploads import (
    complete,
    complete_multipart,
    init_multipart,
    numbered,
    put_headers,
    request_upload,
    split_parts,
)
from uploadkit_server.clock import utcnow
from uploadkit_server.db.models import File, FileStatus
from uploadkit_server.jobs.expiry import expire_abandoned_uploads
from uploadkit_server.runtime import Runtime
from uploadkit_server.storage.s3 import S3Storage

pytestmark = pytest.mark.s3

MIB = 1024 * 1024


settings_overrides = with_s3_settings()


route_fields = with_route(maxFileSize="64MB", allowedTypes=["image/*", "video/*"])


async def file_status(runtime: Runtime, file_id: str) -> FileStatus:
    """The file's status as stored. The column holds a plain string: parsing it checks that it
    is one of the statuses, not merely a string equal to the one expected."""
    async with runtime.sessionmaker() as session:
        status = await session.scalar(select(File.status).where(File.id == file_id))
        assert status is not None
        return FileStatus(status)


async def test_app_uses_s3_storage(runtime: Runtime, s3_bucket: S3Bucket) -> None:
    assert isinstance(runtime.storage, S3Storage)
    assert runtime.storage.bucket == s3_bucket.name


async def test_single_upload_round_trip(
    client: httpx.AsyncClient,
    s3_http: httpx.AsyncClient,
    route: dict[str, Any],
    live_headers: dict[str, str],
    s3_bucket: S3Bucket,
) -> None:
    data = os.urandom(700_000)
    ticket = await request_upload(client, live_headers, size=len(data), name="cat photo.jpg")
    assert ticket.status_code == 200, ticket.text
    body = ticket.json()
    url = body["uploadUrl"]
    assert url.startswith(
        f"{s3_bucket.endpoint_url}/{s3_bucket.name}/{body['key']}".replace(" ", "%20")
    )
    assert {"content-type", "content-length", "host"} <= signed_headers(url)

    put = await s3_http.put(url, content=data, headers={"content-type": "image/jpeg"})
    assert put.status_code == 200, put.text
    done = await complete(client, live_headers, body["fileId"])

    assert done.status_code == 200, done.text
    assert (done.json()["status"], done.json()["fileSize"]) == ("UPLOADED", len(data))
    stored = await s3_bucket.client.get_object(Bucket=s3_bucket.name, Key=body["key"])
    assert stored["ContentType"] == "image/jpeg"
    assert await stored["Body"].read() == data


@pytest.mark.parametrize(
    ("sent_type", "sent_extra", "problem"),
    [
        ("image/png", b"", "content type"),
        ("image/jpeg", b"more", "size"),
    ],
)
async def test_put_that_differs_from_the_declaration_fails_verification(
    client: httpx.AsyncClient,
    s3_http: httpx.AsyncClient,
    route: dict[str, Any],
    live_headers: dict[str, str],
    runtime: Runtime,
    s3_bucket: S3Bucket,
    sent_type: str,
    sent_extra: bytes,
    problem: str,
) -> None:
    data = os.urandom(10_000)
    body = (await request_upload(client, live_headers, size=len(data))).json()

    # A store that checks signatures would refuse this PUT; moto stores it.
    put = await s3_http.put(
        body["uploadUrl"], content=data + sent_extra, headers={"content-type": sent_type}
    )
    assert put.status_code == 200
    assert await s3_bucket.object_keys() == [body["key"]]
    done = await complete(client, live_headers, body["fileId"])

    assert_error(done, 422, "UPLOAD_NOT_VERIFIED")
    assert problem in done.json()["error"]["message"]
    assert await file_status(runtime, body["fileId"]) == FileStatus.FAILED
    assert await s3_bucket.object_keys() == []  # the unverified object is removed


async def test_complete_before_the_put_keeps_the_upload_waiting(
    client: httpx.AsyncClient,
    s3_http: httpx.AsyncClient,
    route: dict[str, Any],
    live_headers: dict[str, str],
    runtime: Runtime,
) -> None:
    """Issue 12 finding 11: no object yet while the URL is valid is "not finished", not a
    failure; the PUT may still come and complete then succeeds."""
    data = os.urandom(10)
    body = (await request_upload(client, live_headers, size=len(data))).json()

    early = await complete(client, live_headers, body["fileId"])
    assert_error(early, 409, "UPLOAD_INCOMPLETE")
    assert await file_status(runtime, body["fileId"]) == FileStatus.UPLOADING

    put = await s3_http.put(body["uploadUrl"], content=data, headers=put_headers(body))
    assert put.status_code == 200, put.text
    done = await complete(client, live_headers, body["fileId"])
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "UPLOADED"


async def multipart_ticket(
    client: httpx.AsyncClient, headers: dict[str, str], size: int
) -> dict[str, Any]:
    response = await init_multipart(client, headers, size=size)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_multipart_round_trip_with_resume(
    client: httpx.AsyncClient,
    s3_http: httpx.AsyncClient,
    route: dict[str, Any],
    live_headers: dict[str, str],
    s3_bucket: S3Bucket,
) -> None:
    data = os.urandom(11 * MIB + 321)
    ticket = await multipart_ticket(client, live_headers, len(data))
    part_size = ticket["partSize"]
    pieces = split_parts(data, part_size)
    assert [p["partNumber"] for p in ticket["parts"]] == [1, 2, 3]
    assert all("content-length" in signed_headers(p["uploadUrl"]) for p in ticket["parts"])

    etags = {}
    for part in ticket["parts"][:2]:
        put = await s3_http.put(part["uploadUrl"], content=pieces[part["partNumber"] - 1])
        assert put.status_code == 200, put.text
        etags[part["partNumber"]] = put.headers["etag"]
    ids = {"fileId": ticket["fileId"], "uploadId": ticket["uploadId"]}

    # Resume: what does S3 hold, then a fresh URL for the missing part.
    listed = await client.get("/api/v1/upload/multipart/parts", params=ids, headers=live_headers)
    assert listed.status_code == 200, listed.text
    held = {p["partNumber"]: p for p in listed.json()["parts"]}
    assert sorted(held) == [1, 2]
    assert {n: p["etag"] for n, p in held.items()} == etags
    signed = await client.post(
        "/api/v1/upload/multipart/sign-parts",
        json={**ids, "partNumbers": [3]},
        headers=live_headers,
    )
    assert signed.status_code == 200, signed.text
    [third] = signed.json()["parts"]
    put = await s3_http.put(third["uploadUrl"], content=pieces[2])
    assert put.status_code == 200, put.text
    etags[3] = put.headers["etag"]

    done = await client.post(
        "/api/v1/upload/multipart/complete",
        json={**ids, "parts": [{"partNumber": n, "etag": e} for n, e in etags.items()]},
        headers=live_headers,
    )

    assert done.status_code == 200, done.text
    assert done.json()["status"] == "UPLOADED"
    stored = await s3_bucket.client.get_object(Bucket=s3_bucket.name, Key=ticket["key"])
    assert (stored["ContentType"], stored["ContentLength"]) == ("video/mp4", len(data))
    assert hashlib.sha256(await stored["Body"].read()).digest() == hashlib.sha256(data).digest()
    assert await s3_bucket.open_multipart_uploads() == []


async def test_multipart_part_of_wrong_size_fails_verification(
    client: httpx.AsyncClient,
    s3_http: httpx.AsyncClient,
    route: dict[str, Any],
    live_headers: dict[str, str],
    runtime: Runtime,
    s3_bucket: S3Bucket,
) -> None:
    size = 6 * MIB
    ticket = await multipart_ticket(client, live_headers, size)
    first, last = ticket["parts"]
    etags = [
        (await s3_http.put(first["uploadUrl"], content=os.urandom(5 * MIB))).headers["etag"],
        # One byte short of the declared last part: S3 would refuse the signed length.
        (await s3_http.put(last["uploadUrl"], content=os.urandom(1 * MIB - 1))).headers["etag"],
    ]

    done = await complete_multipart(client, live_headers, ticket, numbered(etags))

    assert_error(done, 422, "UPLOAD_NOT_VERIFIED")
    assert await file_status(runtime, ticket["fileId"]) == FileStatus.FAILED
    assert await s3_bucket.object_keys() == []
    assert await s3_bucket.open_multipart_uploads() == []


async def test_multipart_abort_leaves_nothing_in_the_bucket(
    client: httpx.AsyncClient,
    s3_http: httpx.AsyncClient,
    route: dict[str, Any],
    live_headers: dict[str, str],
    s3_bucket: S3Bucket,
) -> None:
    ticket = await multipart_ticket(client, live_headers, 6 * MIB)
    put = await s3_http.put(ticket["parts"][0]["uploadUrl"], content=os.urandom(5 * MIB))
    assert put.status_code == 200
    assert await s3_bucket.open_multipart_uploads() == [ticket["key"]]

    aborted = await client.post(
        "/api/v1/upload/multipart/abort",
        json={"fileId": ticket["fileId"], "uploadId": ticket["uploadId"]},
        headers=live_headers,
    )

    assert aborted.status_code == 200, aborted.text
    assert aborted.json() == {"aborted": True}
    assert await s3_bucket.open_multipart_uploads() == []
    assert await s3_bucket.object_keys() == []


async def test_expiry_job_cleans_abandoned_uploads_from_the_bucket(
    client: httpx.AsyncClient,
    s3_http: httpx.AsyncClient,
    route: dict[str, Any],
    live_headers: dict[str, str],
    runtime: Runtime,
    s3_bucket: S3Bucket,
) -> None:
    single = (await request_upload(client, live_headers, size=3)).json()
    put = await s3_http.put(
        single["uploadUrl"], content=b"abc", headers={"content-type": "image/jpeg"}
    )
    assert put.status_code == 200
    multi = await multipart_ticket(client, live_headers, 6 * MIB)
    put = await s3_http.put(multi["parts"][0]["uploadUrl"], content=os.urandom(5 * MIB))
    assert put.status_code == 200
    async with runtime.sessionmaker() as session, session.begin():
        await session.execute(
            update(File)
            .where(File.id.in_([single["fileId"], multi["fileId"]]))
            .values(
                expires_at=utcnow() - timedelta(seconds=runtime.settings.upload_grace_period + 1)
            )
        )

    assert await expire_abandoned_uploads(runtime) == 2

    assert await s3_bucket.object_keys() == []
    assert await s3_bucket.open_multipart_uploads() == []


async def test_cdn_redirects_to_a_short_lived_presigned_get(
    client: httpx.AsyncClient,
    s3_http: httpx.AsyncClient,
    route: dict[str, Any],
    live_headers: dict[str, str],
    s3_bucket: S3Bucket,
) -> None:
    data = os.urandom(100_000)
    ticket = (await request_upload(client, live_headers, size=len(data))).json()
    put = await s3_http.put(
        ticket["uploadUrl"], content=data, headers={"content-type": "image/jpeg"}
    )
    assert put.status_code == 200
    done = await complete(client, live_headers, ticket["fileId"])
    assert done.status_code == 200, done.text
    cdn_path = urlsplit(done.json()["url"]).path
    assert cdn_path == f"/cdn/{ticket['key']}"

    redirect = await client.get(cdn_path)

    assert redirect.status_code == 307
    assert redirect.headers["cache-control"] == "private, max-age=60"
    location = redirect.headers["location"]
    assert location.startswith(f"{s3_bucket.endpoint_url}/{s3_bucket.name}/{ticket['key']}?")
    assert parse_qs(urlsplit(location).query)["X-Amz-Expires"] == ["300"]
    whole = await s3_http.get(location)
    assert (whole.status_code, whole.content) == (200, data)
    assert whole.headers["content-type"] == "image/jpeg"
    ranged = await s3_http.get(location, headers={"range": "bytes=10-19"})
    assert (ranged.status_code, ranged.content) == (206, data[10:20])

    # HEAD is answered here: a presigned GET does not accept HEAD.
    head = await client.head(cdn_path)
    assert head.status_code == 200
    assert (head.headers["content-length"], head.headers["content-type"]) == (
        str(len(data)),
        "image/jpeg",
    )
    # Validators still answer 304 without a trip to the store.
    cached = await client.get(cdn_path, headers={"if-none-match": head.headers["etag"]})
    assert cached.status_code == 304


async def test_cdn_of_missing_object_is_404_not_a_redirect(client: httpx.AsyncClient) -> None:
    missing = await client.get("/cdn/proj_x/files/nothing/here.jpg")

    assert_error(missing, 404, "NOT_FOUND")


async def test_deleting_a_file_removes_its_object_and_its_cdn_url(
    client: httpx.AsyncClient,
    s3_http: httpx.AsyncClient,
    route: dict[str, Any],
    live_headers: dict[str, str],
    s3_bucket: S3Bucket,
) -> None:
    ticket = (await request_upload(client, live_headers, size=4)).json()
    put = await s3_http.put(
        ticket["uploadUrl"], content=b"data", headers={"content-type": "image/jpeg"}
    )
    assert put.status_code == 200
    done = await complete(client, live_headers, ticket["fileId"])
    assert done.status_code == 200, done.text
    cdn_path = urlsplit(done.json()["url"]).path
    location = (await client.get(cdn_path)).headers["location"]

    deleted = await client.delete(
        f"/api/v1/files/{quote(ticket['key'], safe='')}", headers=live_headers
    )

    assert deleted.status_code == 200, deleted.text
    assert await s3_bucket.object_keys() == []
    assert_error(await client.get(cdn_path), 404, "NOT_FOUND")
    assert (await s3_http.get(location)).status_code == 404  # an earlier redirect leads nowhere
