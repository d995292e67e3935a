"""Inputs that once reached the database and broke it: text that is not valid Unicode, and
integers past what a 64-bit column holds. Each is a ``400`` in the envelope, and nothing is
stored, so the project's pages keep working."""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from tests.support.api import assert_error
from tests.support.uploads import create_route, upload_file
from uploadkit_server.core.accounts.service import NewAccount

JSON = {"content-type": "application/json"}


def request_body(**extra: object) -> dict[str, object]:
    return {
        "fileName": "a.jpg",
        "fileSize": 4,
        "contentType": "image/jpeg",
        "routeSlug": "files",
        **extra,
    }


async def assert_nothing_stored(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    listing = await client.get("/api/v1/files", headers=headers)
    assert listing.status_code == 200, listing.text
    assert listing.json()["items"] == []


@pytest.mark.parametrize(
    "raw",
    [
        # A lone high surrogate, a lone low one, a reversed pair, a key that is one.
        b'{"fileName":"a.jpg","fileSize":4,"contentType":"image/jpeg","routeSlug":"files",'
        b'"metadata":{"a":"\\ud800"}}',
        b'{"fileName":"a\\uDC00.jpg","fileSize":4,"contentType":"image/jpeg","routeSlug":"files"}',
        b'{"fileName":"a.jpg","fileSize":4,"contentType":"image/jpeg","routeSlug":"files",'
        b'"metadata":{"a":["ok","\\ude00\\ud83d"]}}',
        b'{"fileName":"a.jpg","fileSize":4,"contentType":"image/jpeg","routeSlug":"files",'
        b'"metadata":{"\\ud800":1}}',
        # Raw bytes that are not UTF-8 (an encoded surrogate, and Latin-1).
        b'{"fileName":"a\xed\xa0\x80.jpg","fileSize":4,"contentType":"image/jpeg",'
        b'"routeSlug":"files"}',
        b'{"fileName":"caf\xe9.jpg","fileSize":4,"contentType":"image/jpeg","routeSlug":"files"}',
    ],
)
async def test_invalid_unicode_in_upload_request_is_400(
    client: httpx.AsyncClient, account: NewAccount, live_headers: dict[str, str], raw: bytes
) -> None:
    await create_route(client, live_headers, account.project.id, slug="files")
    response = await client.post("/api/v1/upload/request", content=raw, headers=live_headers | JSON)
    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert "Unicode" in error["message"]
    await assert_nothing_stored(client, live_headers)


async def test_invalid_unicode_is_refused_everywhere_and_pages_keep_working(
    client: httpx.AsyncClient, account: NewAccount, live_headers: dict[str, str]
) -> None:
    await create_route(client, live_headers, account.project.id, slug="files")
    file = await upload_file(client, live_headers, b"data", name="a.jpg")
    path = f"/api/v1/files/{file['key']}"
    lone = b'{"metadata":{"a":"\\ud800"}}'
    assert_error(
        await client.patch(path, content=lone, headers=live_headers | JSON), 400, "VALIDATION_ERROR"
    )
    project = account.project.id
    assert_error(
        await client.patch(
            f"/api/v1/projects/{project}", content=b'{"name":"\\udfff"}', headers=live_headers
        ),  # no content type: parsed as JSON too
        400,
        "VALIDATION_ERROR",
    )
    # Valid pairs and escaped backslashes are fine, and come back as sent.
    good = {"emoji": "\U0001f600", "literal": "\\ud800"}
    patched = await client.patch(
        path, content=json.dumps({"metadata": good}).encode(), headers=live_headers | JSON
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["metadata"] == good
    listed = await client.get("/api/v1/files", headers=live_headers)
    assert listed.status_code == 200
    assert listed.json()["items"][0]["metadata"] == good
    assert (await client.get(path, headers=live_headers)).status_code == 200


async def test_huge_cursor_is_400(client: httpx.AsyncClient, live_headers: dict[str, str]) -> None:
    for pk in (10**27, 2**63, -1):
        cursor = base64.urlsafe_b64encode(json.dumps({"pk": pk}).encode()).decode().rstrip("=")
        for path in ("/api/v1/files", "/api/v1/webhooks/deliveries", "/api/v1/logs"):
            response = await client.get(path, params={"cursor": cursor}, headers=live_headers)
            assert_error(response, 400, "VALIDATION_ERROR")
    largest = base64.urlsafe_b64encode(json.dumps({"pk": 2**63 - 1}).encode()).decode()
    ok = await client.get("/api/v1/files", params={"cursor": largest}, headers=live_headers)
    assert ok.status_code == 200, ok.text


@pytest.mark.parametrize(
    "size",
    ["99999999999999999999GB", "9" * 400 + "TB", 2**63, 10**30, "8EB"],
)
async def test_huge_route_sizes_are_400(
    client: httpx.AsyncClient, account: NewAccount, live_headers: dict[str, str], size: object
) -> None:
    path = f"/api/v1/projects/{account.project.id}/routers"
    created = await client.post(
        path, json={"slug": "big", "maxFileSize": size}, headers=live_headers
    )
    assert_error(created, 400, "VALIDATION_ERROR")
    route = await create_route(client, live_headers, account.project.id, slug="files")
    updated = await client.patch(
        f"/api/v1/routers/{route['id']}", json={"maxFileSize": size}, headers=live_headers
    )
    assert_error(updated, 400, "VALIDATION_ERROR")
    listed = await client.get(path, headers=live_headers)
    assert [item["slug"] for item in listed.json()["items"]] == ["files"]


async def test_largest_size_is_accepted_and_huge_integers_elsewhere_are_400(
    client: httpx.AsyncClient, account: NewAccount, live_headers: dict[str, str]
) -> None:
    path = f"/api/v1/projects/{account.project.id}/routers"
    largest = await client.post(
        path, json={"slug": "files", "maxFileSize": 2**63 - 1}, headers=live_headers
    )
    assert largest.status_code == 201, largest.text
    assert largest.json()["maxFileSize"] == 2**63 - 1
    huge_count = await client.post(
        path, json={"slug": "many", "maxFileCount": 10**27}, headers=live_headers
    )
    assert_error(huge_count, 400, "VALIDATION_ERROR")
    huge_file = await client.post(
        "/api/v1/upload/request", json=request_body(fileSize=10**27), headers=live_headers
    )
    assert_error(huge_file, 400, "VALIDATION_ERROR")
    huge_limit = await client.get("/api/v1/files", params={"limit": 10**27}, headers=live_headers)
    assert_error(huge_limit, 400, "VALIDATION_ERROR")
    huge_grace = await client.post(
        "/api/v1/webhooks/signing-keys/rotate-secret",
        json={"gracePeriodSeconds": 10**27},
        headers=live_headers,
    )
    assert_error(huge_grace, 400, "VALIDATION_ERROR")
    await assert_nothing_stored(client, live_headers)


@pytest.mark.parametrize("size", [{}, [], 1.5, True, "4 parsecs"])
async def test_sizes_of_the_wrong_json_type_are_400(
    client: httpx.AsyncClient, account: NewAccount, live_headers: dict[str, str], size: object
) -> None:
    # Found by fuzzing: an object for maxFileSize used to escape validation as a TypeError.
    path = f"/api/v1/projects/{account.project.id}/routers"
    created = await client.post(path, json={"slug": "x", "maxFileSize": size}, headers=live_headers)
    assert_error(created, 400, "VALIDATION_ERROR")
