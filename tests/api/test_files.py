"""Files of the key's project and mode: keyset listing (stable under inserts and deletes),
filters, lookup by URL-encoded key, metadata merge, delete and bulk delete."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import select

from tests.support.api import FILE_FIELDS, assert_error
from tests.support.uploads import complete, create_route, request_upload, upload_file
from uploadkit_server.core.accounts.service import NewAccount
from uploadkit_server.db.models import Account, UploadEvent, UsageMonth
from uploadkit_server.runtime import Runtime


def encoded(key: str) -> str:
    return quote(key, safe="")


async def list_keys(client: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> list[str]:
    response = await client.get("/api/v1/files", params={"limit": 100, **params}, headers=headers)
    assert response.status_code == 200, response.text
    return [item["key"] for item in response.json()["items"]]


async def account_row(runtime: Runtime, account_id: str) -> Account:
    async with runtime.sessionmaker() as session:
        account = await session.get(Account, account_id)
        assert account is not None
        return account


async def test_listing_is_newest_first_across_statuses_and_pages(
    client: httpx.AsyncClient, route: dict[str, Any], live_headers: dict[str, str]
) -> None:
    first = await upload_file(client, live_headers, b"one", name="a.jpg")
    pending = (await request_upload(client, live_headers, size=5, name="b.jpg")).json()
    second = await upload_file(client, live_headers, b"three", name="c.jpg")
    expected = [second["key"], pending["key"], first["key"]]

    assert await list_keys(client, live_headers) == expected

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 1}
        if cursor:
            params["cursor"] = cursor
        body = (await client.get("/api/v1/files", params=params, headers=live_headers)).json()
        assert set(body) == {"items", "nextCursor", "hasMore"}
        seen += [item["key"] for item in body["items"]]
        pages += 1
        if not body["hasMore"]:
            assert body["nextCursor"] is None
            break
        cursor = body["nextCursor"]
    assert seen == expected and pages == 3

    item = (await client.get("/api/v1/files", headers=live_headers)).json()["items"][0]
    assert set(item) == FILE_FIELDS
    assert item["url"].endswith("/" + second["key"])


async def test_pages_stay_correct_when_files_are_added_and_deleted_between_them(
    client: httpx.AsyncClient, route: dict[str, Any], live_headers: dict[str, str]
) -> None:
    files = [
        await upload_file(client, live_headers, b"x" * (i + 1), name=f"f{i}.jpg") for i in range(5)
    ]
    keys_newest_first = [f["key"] for f in reversed(files)]

    page1 = (await client.get("/api/v1/files", params={"limit": 2}, headers=live_headers)).json()
    assert [i["key"] for i in page1["items"]] == keys_newest_first[:2]

    # Between pages: a new file arrives, one already seen and one not yet seen are deleted.
    await upload_file(client, live_headers, b"new", name="new.jpg")
    for gone in (keys_newest_first[0], keys_newest_first[3]):
        assert (
            await client.delete(f"/api/v1/files/{encoded(gone)}", headers=live_headers)
        ).status_code == 200

    rest: list[str] = []
    cursor = page1["nextCursor"]
    while cursor:
        body = (
            await client.get(
                "/api/v1/files", params={"limit": 2, "cursor": cursor}, headers=live_headers
            )
        ).json()
        rest += [i["key"] for i in body["items"]]
        cursor = body["nextCursor"]
    assert rest == [keys_newest_first[2], keys_newest_first[4]]


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 101},
        {"limit": "ten"},
        {"cursor": "not-a-cursor!"},
        {"cursor": "eyJway"},
        {"cursor": "eyJwayI6LTF9"},
        {"status": "DELETED"},
        {"status": "nope"},
    ],
)
async def test_bad_listing_parameters_are_validation_errors(
    client: httpx.AsyncClient, live_headers: dict[str, str], params: dict[str, Any]
) -> None:
    assert_error(
        await client.get("/api/v1/files", params=params, headers=live_headers),
        400,
        "VALIDATION_ERROR",
    )


async def test_filters_by_status_and_route(
    client: httpx.AsyncClient,
    account: NewAccount,
    route: dict[str, Any],
    live_headers: dict[str, str],
) -> None:
    await create_route(client, live_headers, account.project.id, slug="avatars")
    done = await upload_file(client, live_headers, b"done")
    pending = (await request_upload(client, live_headers, size=3)).json()
    avatar = await upload_file(client, live_headers, b"face", route="avatars")

    assert await list_keys(client, live_headers, status="UPLOADED") == [avatar["key"], done["key"]]
    assert await list_keys(client, live_headers, status="uploading") == [pending["key"]]
    assert await list_keys(client, live_headers, status="FAILED") == []
    assert await list_keys(client, live_headers, routeSlug="avatars") == [avatar["key"]]
    assert await list_keys(client, live_headers, routeSlug="files") == [pending["key"], done["key"]]
    assert await list_keys(client, live_headers, routeSlug="files", status="UPLOADED") == [
        done["key"]
    ]
    assert await list_keys(client, live_headers, routeSlug="nothing") == []


async def test_get_by_encoded_and_plain_key(
    client: httpx.AsyncClient, route: dict[str, Any], live_headers: dict[str, str]
) -> None:
    file = await upload_file(client, live_headers, b"hello", name="holiday photo.jpg")
    key = file["key"]
    assert "/" in key

    by_encoded = await client.get(f"/api/v1/files/{encoded(key)}", headers=live_headers)
    assert by_encoded.status_code == 200, by_encoded.text
    assert by_encoded.json() == file
    by_plain = await client.get(f"/api/v1/files/{key}", headers=live_headers)
    assert by_plain.json() == file

    # Encoded once more, the slashes are part of the key: no such file.
    assert_error(
        await client.get(f"/api/v1/files/{quote(encoded(key), safe='')}", headers=live_headers),
        404,
        "NOT_FOUND",
    )
    assert_error(
        await client.get("/api/v1/files/nope%2Fnothing.jpg", headers=live_headers), 404, "NOT_FOUND"
    )


async def test_patch_merges_metadata(
    client: httpx.AsyncClient, route: dict[str, Any], live_headers: dict[str, str]
) -> None:
    file = await upload_file(
        client, live_headers, b"m", metadata={"a": 1, "b": {"x": 1}, "keep": "yes"}
    )
    path = f"/api/v1/files/{encoded(file['key'])}"
    response = await client.patch(
        path, json={"metadata": {"a": None, "b": {"y": 2}, "c": [1, 2]}}, headers=live_headers
    )
    assert response.status_code == 200, response.text
    patched = response.json()
    assert patched["metadata"] == {"b": {"y": 2}, "keep": "yes", "c": [1, 2]}
    assert patched["updatedAt"] >= file["updatedAt"]
    assert (await client.get(path, headers=live_headers)).json()["metadata"] == patched["metadata"]

    # Plain (unencoded) keys work for PATCH too.
    again = await client.patch(
        f"/api/v1/files/{file['key']}", json={"metadata": {"d": True}}, headers=live_headers
    )
    assert again.json()["metadata"]["d"] is True

    for body in ({}, {"metadata": "text"}, {"metadata": [1]}, {"metadata": {}, "status": "X"}):
        assert_error(
            await client.patch(path, json=body, headers=live_headers), 400, "VALIDATION_ERROR"
        )
    assert_error(
        await client.patch("/api/v1/files/nope", json={"metadata": {}}, headers=live_headers),
        404,
        "NOT_FOUND",
    )


async def test_delete_removes_object_record_and_storage_use(
    client: httpx.AsyncClient,
    runtime: Runtime,
    account: NewAccount,
    route: dict[str, Any],
    live_headers: dict[str, str],
) -> None:
    kept = await upload_file(client, live_headers, b"k" * 10, name="kept.jpg")
    file = await upload_file(client, live_headers, b"d" * 1000, name="gone.jpg")
    assert (await account_row(runtime, account.account.id)).storage_bytes == 1010
    assert await runtime.storage.head(file["key"]) is not None

    path = f"/api/v1/files/{encoded(file['key'])}"
    response = await client.delete(path, headers=live_headers)
    assert response.status_code == 200
    assert response.json() == {"deleted": True}

    assert await runtime.storage.head(file["key"]) is None
    assert (await account_row(runtime, account.account.id)).storage_bytes == 10
    assert_error(await client.get(path, headers=live_headers), 404, "NOT_FOUND")
    assert_error(await client.delete(path, headers=live_headers), 404, "NOT_FOUND")
    assert_error(
        await client.patch(path, json={"metadata": {}}, headers=live_headers), 404, "NOT_FOUND"
    )
    assert await list_keys(client, live_headers) == [kept["key"]]
    async with runtime.sessionmaker() as session:
        events = (
            await session.scalars(
                select(UploadEvent.event)
                .where(UploadEvent.file_id == file["id"])
                .order_by(UploadEvent.pk)
            )
        ).all()
    assert events[-1] == "deleted"
    assert (await account_row(runtime, account.account.id)).storage_bytes == 10  # counted once


async def test_deleting_an_upload_in_flight_releases_its_reservation(
    client: httpx.AsyncClient,
    runtime: Runtime,
    account: NewAccount,
    route: dict[str, Any],
    live_headers: dict[str, str],
) -> None:
    ticket = (await request_upload(client, live_headers, size=500)).json()
    assert (await account_row(runtime, account.account.id)).storage_bytes == 500
    response = await client.delete(f"/api/v1/files/{ticket['key']}", headers=live_headers)
    assert response.status_code == 200
    assert (await account_row(runtime, account.account.id)).storage_bytes == 0
    async with runtime.sessionmaker() as session:
        in_flight = await session.scalar(
            select(UsageMonth.uploads_in_flight).where(UsageMonth.account_id == account.account.id)
        )
    assert in_flight == 0
    # The upload can no longer be completed.
    assert_error(
        await complete(client, live_headers, ticket["fileId"]),
        404,
        "UPLOAD_NOT_FOUND",
    )


async def test_bulk_delete_reports_each_key(
    client: httpx.AsyncClient,
    runtime: Runtime,
    route: dict[str, Any],
    live_headers: dict[str, str],
) -> None:
    a = await upload_file(client, live_headers, b"a", name="a.jpg")
    b = await upload_file(client, live_headers, b"b", name="b.jpg")
    c = await upload_file(client, live_headers, b"c", name="c.jpg")

    mixed = await client.request(
        "DELETE",
        "/api/v1/files",
        json={"keys": [a["key"], "missing/key.jpg", b["key"]]},
        headers=live_headers,
    )
    assert mixed.status_code == 207, mixed.text
    results = mixed.json()["results"]
    assert results[0] == {"key": a["key"], "deleted": True}
    assert results[1]["key"] == "missing/key.jpg" and results[1]["deleted"] is False
    assert results[1]["error"]["code"] == "NOT_FOUND"
    assert results[2] == {"key": b["key"], "deleted": True}
    for gone in (a, b):
        assert await runtime.storage.head(gone["key"]) is None
    assert await list_keys(client, live_headers) == [c["key"]]

    clean = await client.request(
        "DELETE", "/api/v1/files", json={"keys": [c["key"]]}, headers=live_headers
    )
    assert clean.status_code == 200
    assert clean.json() == {"results": [{"key": c["key"], "deleted": True}]}
    assert await list_keys(client, live_headers) == []

    malformed: list[dict[str, object]] = [
        {"keys": []},
        {"keys": [f"k{i}" for i in range(101)]},
        {},
        {"keys": [""]},
        {"keys": "a"},
    ]
    for body in malformed:
        assert_error(
            await client.request("DELETE", "/api/v1/files", json=body, headers=live_headers),
            400,
            "VALIDATION_ERROR",
        )


async def test_concurrent_deletes_release_storage_once(
    client: httpx.AsyncClient,
    runtime: Runtime,
    account: NewAccount,
    route: dict[str, Any],
    live_headers: dict[str, str],
) -> None:
    file = await upload_file(client, live_headers, b"c" * 64)
    other = await upload_file(client, live_headers, b"o" * 36, name="other.jpg")
    path = f"/api/v1/files/{encoded(file['key'])}"
    single = [client.delete(path, headers=live_headers) for _ in range(4)]
    bulk = [
        client.request(
            "DELETE",
            "/api/v1/files",
            json={"keys": [file["key"], file["key"]]},
            headers=live_headers,
        )
        for _ in range(2)
    ]
    responses = await asyncio.gather(*single, *bulk)
    deleted = sum(r.status_code == 200 for r in responses[:4]) + sum(
        result["deleted"] for r in responses[4:] for result in r.json()["results"]
    )
    assert deleted == 1
    assert all(r.status_code == 404 for r in responses[:4] if r.status_code != 200)
    assert (await account_row(runtime, account.account.id)).storage_bytes == 36
    assert await list_keys(client, live_headers) == [other["key"]]
