"""Object lifetimes on local storage, through HTTP (issue 12 findings 1, 10, 11; SQLite and
PostgreSQL): a presigned URL stores bytes only while its file waits for them, the CDN serves
only ``UPLOADED`` files and active types only as sandboxed downloads. S3: the ``_s3`` twin."""

from __future__ import annotations

import os
from typing import Any

import httpx
import pytest

from tests.support import images
from tests.support.api import assert_error
from tests.support.fixtures import with_route
from tests.support.transforms import transform
from tests.support.uploads import complete, create_route, put_headers, request_upload, upload_file
from uploadkit_server.runtime import Runtime
from uploadkit_server.storage.local import LocalStorage

MIB = 1024 * 1024
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + os.urandom(2000)


# The default route: every type allowed, as the attacker's account had it.
route_fields = with_route(maxFileSize="64MB")


def stored_objects(runtime: Runtime) -> list[str]:
    assert isinstance(runtime.storage, LocalStorage)
    root = runtime.storage.root / "objects"
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


async def test_put_after_complete_is_refused_and_the_cdn_keeps_the_verified_bytes(
    client: httpx.AsyncClient, route: dict[str, Any], live_headers: dict[str, str]
) -> None:
    ticket = (await request_upload(client, live_headers, size=len(JPEG))).json()
    assert (
        await client.put(ticket["uploadUrl"], content=JPEG, headers=put_headers(ticket))
    ).status_code == 200
    assert (await complete(client, live_headers, ticket["fileId"])).status_code == 200

    other = os.urandom(len(JPEG))
    again = await client.put(ticket["uploadUrl"], content=other, headers=put_headers(ticket))
    error = assert_error(again, 403, "FORBIDDEN")
    assert "no longer accepts bytes" in error["message"]
    assert again.headers["connection"] == "close"
    assert (await client.get(f"/cdn/{ticket['key']}")).content == JPEG


async def test_put_after_delete_is_refused_and_nothing_is_stored(
    client: httpx.AsyncClient,
    route: dict[str, Any],
    live_headers: dict[str, str],
    runtime: Runtime,
) -> None:
    ticket = (await request_upload(client, live_headers, size=len(JPEG))).json()
    assert (
        await client.put(ticket["uploadUrl"], content=JPEG, headers=put_headers(ticket))
    ).status_code == 200
    assert (await complete(client, live_headers, ticket["fileId"])).status_code == 200
    deleted = await client.delete(f"/api/v1/files/{ticket['key']}", headers=live_headers)
    assert deleted.status_code == 200

    again = await client.put(ticket["uploadUrl"], content=JPEG, headers=put_headers(ticket))
    assert_error(again, 403, "FORBIDDEN")
    assert stored_objects(runtime) == []
    assert_error(await client.get(f"/cdn/{ticket['key']}"), 404, "NOT_FOUND")


async def test_put_after_a_failed_verification_is_refused(
    client: httpx.AsyncClient,
    route: dict[str, Any],
    live_headers: dict[str, str],
    runtime: Runtime,
) -> None:
    # Declared PNG, the bytes are a JPEG: strict content sniffing fails the upload.
    await create_route(
        client,
        live_headers,
        route["projectId"],
        slug="strict",
        typeCheck="strict",
        allowedTypes=["image/png"],
    )
    ticket = (
        await request_upload(
            client, live_headers, size=len(JPEG), content_type="image/png", route="strict"
        )
    ).json()
    headers = put_headers(ticket, "image/png")
    assert (await client.put(ticket["uploadUrl"], content=JPEG, headers=headers)).status_code == 200
    assert_error(await complete(client, live_headers, ticket["fileId"]), 422, "FILE_TYPE_MISMATCH")

    again = await client.put(ticket["uploadUrl"], content=JPEG, headers=headers)
    assert_error(again, 403, "FORBIDDEN")
    assert stored_objects(runtime) == []


async def test_nothing_of_an_upload_in_flight_is_served(
    client: httpx.AsyncClient, route: dict[str, Any], live_headers: dict[str, str]
) -> None:
    ticket = (await request_upload(client, live_headers, size=len(JPEG))).json()
    assert (
        await client.put(ticket["uploadUrl"], content=JPEG, headers=put_headers(ticket))
    ).status_code == 200
    # Stored but not verified: not the file's bytes yet.
    assert_error(await client.get(f"/cdn/{ticket['key']}"), 404, "NOT_FOUND")
    assert (await client.head(f"/cdn/{ticket['key']}")).status_code == 404
    assert (await complete(client, live_headers, ticket["fileId"])).status_code == 200
    assert (await client.get(f"/cdn/{ticket['key']}")).content == JPEG


async def multipart(
    client: httpx.AsyncClient, headers: dict[str, str], size: int
) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/upload/multipart/init",
        json={
            "fileName": "m.bin",
            "fileSize": size,
            "contentType": "video/mp4",
            "routeSlug": "files",
        },
        headers=headers,
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


@pytest.mark.parametrize("ending", ["complete", "abort", "delete"])
async def test_part_put_after_the_upload_ended_is_refused(
    client: httpx.AsyncClient,
    route: dict[str, Any],
    live_headers: dict[str, str],
    runtime: Runtime,
    ending: str,
) -> None:
    data = os.urandom(1000)
    ticket = await multipart(client, live_headers, len(data))
    (part,) = ticket["parts"]
    put = await client.put(part["uploadUrl"], content=data)
    assert put.status_code == 200
    ids = {"fileId": ticket["fileId"], "uploadId": ticket["uploadId"]}
    if ending == "abort":
        ended = await client.post("/api/v1/upload/multipart/abort", json=ids, headers=live_headers)
    else:
        ended = await client.post(
            "/api/v1/upload/multipart/complete",
            json={**ids, "parts": [{"partNumber": 1, "etag": put.headers["etag"]}]},
            headers=live_headers,
        )
        if ending == "delete":
            assert ended.status_code == 200, ended.text
            ended = await client.delete(f"/api/v1/files/{ticket['key']}", headers=live_headers)
    assert ended.status_code == 200, ended.text
    before = stored_objects(runtime)

    again = await client.put(part["uploadUrl"], content=os.urandom(1000))
    assert_error(again, 403, "FORBIDDEN")
    assert stored_objects(runtime) == before


@pytest.mark.parametrize(
    "content_type",
    [
        "text/html",
        "image/svg+xml",
        "application/xhtml+xml",
        "text/javascript",
        "application/javascript",
        "application/xml",
        "text/xml",
        "application/x-unknown-thing",
    ],
)
async def test_active_content_is_a_sandboxed_download(
    client: httpx.AsyncClient,
    route: dict[str, Any],
    live_headers: dict[str, str],
    content_type: str,
) -> None:
    """Issue 12 finding 10: HTML, SVG, scripts and unknown types cannot run in this origin."""
    # Sniffing off: whatever a route's check lets through, the CDN must not let it run.
    await create_route(client, live_headers, route["projectId"], slug="raw", typeCheck="off")
    data = b"<html><script>alert(document.domain)</script></html>"
    ticket = (
        await request_upload(
            client, live_headers, size=len(data), content_type=content_type, route="raw"
        )
    ).json()
    put = await client.put(
        ticket["uploadUrl"], content=data, headers=put_headers(ticket, content_type)
    )
    assert put.status_code == 200, put.text
    stored = (await complete(client, live_headers, ticket["fileId"])).json()
    for method in ("GET", "HEAD"):
        response = await client.request(method, f"/cdn/{stored['key']}")
        assert response.status_code == 200
        assert response.headers["content-disposition"] == "attachment"
        assert response.headers["content-security-policy"].startswith("sandbox")
        assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    "content_type", ["image/jpeg", "video/mp4", "application/pdf", "text/plain"]
)
async def test_passive_content_is_served_inline(
    client: httpx.AsyncClient,
    route: dict[str, Any],
    live_headers: dict[str, str],
    content_type: str,
) -> None:
    stored = await upload_file(
        client,
        live_headers,
        JPEG if content_type == "image/jpeg" else b"plain bytes",
        content_type=content_type,
        name="f.bin",
    )
    response = await client.get(f"/cdn/{stored['key']}")
    assert response.status_code == 200
    assert "content-disposition" not in response.headers
    assert "content-security-policy" not in response.headers
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_file_urls_use_the_separate_cdn_origin(
    client: httpx.AsyncClient, route: dict[str, Any], live_headers: dict[str, str], runtime: Runtime
) -> None:
    runtime.settings.cdn_url = "https://files.example-cdn.net"
    stored = await upload_file(client, live_headers, JPEG)
    assert stored["url"].startswith("https://files.example-cdn.net/")


async def test_transforms_read_only_uploaded_sources(
    client: httpx.AsyncClient, route: dict[str, Any], live_headers: dict[str, str]
) -> None:
    photo = images.jpeg(40, 20)
    ticket = (await request_upload(client, live_headers, size=len(photo))).json()
    put = await client.put(ticket["uploadUrl"], content=photo, headers=put_headers(ticket))
    assert put.status_code == 200
    assert_error(await transform(client, live_headers, ticket["key"], width=10), 404, "NOT_FOUND")
    assert (await complete(client, live_headers, ticket["fileId"])).status_code == 200
    assert (await transform(client, live_headers, ticket["key"], width=10)).status_code == 200
