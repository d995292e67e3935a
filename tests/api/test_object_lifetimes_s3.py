"""Object lifetimes with ``UPLOADKIT_STORAGE=s3`` against moto's S3 server (SQLite and
PostgreSQL; issue 12 findings 1 and 10): the single-PUT URL is a signed conditional write that
cannot replace a stored object, and the CDN redirects only for ``UPLOADED`` files, with active
types as downloads. Local storage: ``test_object_lifetimes.py``; the sweep of what a deleted or
failed file's URL can still create: ``tests/jobs/test_orphaned_objects.py``."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.support.api import assert_error
from tests.support.fixtures import with_route, with_s3_settings
from tests.support.s3server import S3Bucket
from tests.support.uploads import complete, put_headers, request_upload

pytestmark = pytest.mark.s3

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + os.urandom(2000)


settings_overrides = with_s3_settings()


route_fields = with_route(maxFileSize="64MB", typeCheck="off")


async def put_and_complete(
    client: httpx.AsyncClient,
    s3_http: httpx.AsyncClient,
    headers: dict[str, str],
    data: bytes,
    content_type: str = "image/jpeg",
) -> dict[str, Any]:
    ticket = (
        await request_upload(client, headers, size=len(data), content_type=content_type)
    ).json()
    put = await s3_http.put(
        ticket["uploadUrl"], content=data, headers=put_headers(ticket, content_type)
    )
    assert put.status_code == 200, put.text
    done = await complete(client, headers, ticket["fileId"])
    assert done.status_code == 200, done.text
    return dict(ticket)


async def test_the_url_cannot_replace_the_completed_object(
    client: httpx.AsyncClient,
    s3_http: httpx.AsyncClient,
    route: dict[str, Any],
    live_headers: dict[str, str],
    s3_bucket: S3Bucket,
) -> None:
    ticket = await put_and_complete(client, s3_http, live_headers, JPEG)
    assert ticket["uploadHeaders"] == {"If-None-Match": "*"}

    again = await s3_http.put(
        ticket["uploadUrl"], content=os.urandom(len(JPEG)), headers=put_headers(ticket)
    )
    assert again.status_code == 412, again.text  # PreconditionFailed: the object exists
    stored = await s3_bucket.client.get_object(Bucket=s3_bucket.name, Key=ticket["key"])
    assert await stored["Body"].read() == JPEG
    redirect = await client.get(f"/cdn/{ticket['key']}")
    assert redirect.status_code == 307
    assert (await s3_http.get(redirect.headers["location"])).content == JPEG


async def test_nothing_of_an_upload_in_flight_is_served(
    client: httpx.AsyncClient,
    s3_http: httpx.AsyncClient,
    route: dict[str, Any],
    live_headers: dict[str, str],
) -> None:
    ticket = (await request_upload(client, live_headers, size=len(JPEG))).json()
    put = await s3_http.put(ticket["uploadUrl"], content=JPEG, headers=put_headers(ticket))
    assert put.status_code == 200
    assert_error(await client.get(f"/cdn/{ticket['key']}"), 404, "NOT_FOUND")


async def test_a_failed_files_url_creates_nothing_the_cdn_serves(
    client: httpx.AsyncClient,
    s3_http: httpx.AsyncClient,
    route: dict[str, Any],
    live_headers: dict[str, str],
) -> None:
    """Issue 12 finding 1 (c): after a failed verification the object is removed, so the
    conditional write lets a PUT through again; the CDN does not serve it (and the orphan
    sweep removes it)."""
    ticket = (await request_upload(client, live_headers, size=len(JPEG))).json()
    wrong = await s3_http.put(
        ticket["uploadUrl"], content=JPEG + b"x", headers=put_headers(ticket)
    )  # moto does not check the signed length; complete does
    assert wrong.status_code == 200
    failed = await complete(client, live_headers, ticket["fileId"])
    assert_error(failed, 422, "UPLOAD_NOT_VERIFIED")
    again = await s3_http.put(ticket["uploadUrl"], content=JPEG, headers=put_headers(ticket))
    assert again.status_code == 200
    assert_error(await client.get(f"/cdn/{ticket['key']}"), 404, "NOT_FOUND")


async def test_active_content_redirects_to_a_download(
    client: httpx.AsyncClient,
    s3_http: httpx.AsyncClient,
    route: dict[str, Any],
    live_headers: dict[str, str],
) -> None:
    page = b"<html><script>alert(document.domain)</script></html>"
    html = await put_and_complete(client, s3_http, live_headers, page, "text/html")
    redirect = await client.get(f"/cdn/{html['key']}")
    assert redirect.status_code == 307
    location = redirect.headers["location"]
    assert parse_qs(urlsplit(location).query)["response-content-disposition"] == ["attachment"]
    served = await s3_http.get(location)
    assert served.content == page
    assert served.headers["content-disposition"] == "attachment"
    head = await client.head(f"/cdn/{html['key']}")
    assert head.headers["content-disposition"] == "attachment"
    assert head.headers["content-security-policy"].startswith("sandbox")

    photo = await put_and_complete(client, s3_http, live_headers, JPEG)
    inline = await client.get(f"/cdn/{photo['key']}")
    assert "response-content-disposition" not in inline.headers["location"]
