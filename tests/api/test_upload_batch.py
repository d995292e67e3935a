"""``maxFileCount``: files per request. ``POST /upload/request`` with ``files`` asks for several
files of one route at once, each with its own URL, admitted all or nothing."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.api import assert_error
from tests.support.uploads import complete, create_route
from uploadkit_server.core.accounts.service import NewAccount
from uploadkit_server.core.tiers import limits_for
from uploadkit_server.db.models import Tier


def item(
    name: str, size: int = 4, content_type: str = "image/jpeg", **extra: Any
) -> dict[str, Any]:
    return {"fileName": name, "fileSize": size, "contentType": content_type, **extra}


async def batch(
    client: httpx.AsyncClient, headers: dict[str, str], files: list[dict[str, Any]], **extra: Any
) -> httpx.Response:
    body = {"routeSlug": "gallery", "files": files, **extra}
    return await client.post("/api/v1/upload/request", json=body, headers=headers)


async def listed(client: httpx.AsyncClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    response = await client.get("/api/v1/files", params={"limit": 100}, headers=headers)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def test_a_batch_within_max_file_count_gets_a_url_per_file(
    client: httpx.AsyncClient, account: NewAccount, live_headers: dict[str, str]
) -> None:
    await create_route(client, live_headers, account.project.id, slug="gallery", maxFileCount=3)
    response = await batch(
        client,
        live_headers,
        [item("a.jpg", metadata={"n": 1}), item("b.jpg", 5), item("c.jpg", 6)],
        metadata={"album": "x"},
    )
    assert response.status_code == 200, response.text
    tickets = response.json()["files"]
    assert len(tickets) == 3
    assert len({t["uploadUrl"] for t in tickets}) == 3 and len({t["fileId"] for t in tickets}) == 3
    assert [t["key"].rsplit("/", 1)[1] for t in tickets] == ["a.jpg", "b.jpg", "c.jpg"]
    for ticket, data in zip(tickets, [b"aaaa", b"bbbbb", b"cccccc"], strict=True):
        put = await client.put(
            ticket["uploadUrl"], content=data, headers={"content-type": "image/jpeg"}
        )
        assert put.status_code == 200, put.text
        done = await complete(client, live_headers, ticket["fileId"])
        assert done.status_code == 200, done.text
    files = {f["fileName"]: f for f in await listed(client, live_headers)}
    assert files["a.jpg"]["metadata"] == {"album": "x", "n": 1}
    assert files["b.jpg"]["metadata"] == {"album": "x"}
    assert {f["status"] for f in files.values()} == {"UPLOADED"}


async def test_a_batch_over_max_file_count_is_refused_whole(
    client: httpx.AsyncClient, account: NewAccount, live_headers: dict[str, str]
) -> None:
    await create_route(client, live_headers, account.project.id, slug="gallery", maxFileCount=2)
    response = await batch(client, live_headers, [item("a.jpg"), item("b.jpg"), item("c.jpg")])
    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert "at most 2 files" in error["message"]
    assert "maxFileCount" in error["suggestion"]
    assert await listed(client, live_headers) == []
    usage = (await client.get("/api/v1/usage", headers=live_headers)).json()
    assert usage["uploadsInFlight"] == 0


async def test_the_default_max_file_count_is_one_file_per_request(
    client: httpx.AsyncClient, account: NewAccount, live_headers: dict[str, str]
) -> None:
    await create_route(client, live_headers, account.project.id, slug="gallery")
    assert_error(
        await batch(client, live_headers, [item("a.jpg"), item("b.jpg")]), 400, "VALIDATION_ERROR"
    )
    one = await batch(client, live_headers, [item("a.jpg")])
    assert one.status_code == 200 and len(one.json()["files"]) == 1
    # The single-file body of the SPEC is unchanged.
    single = await client.post(
        "/api/v1/upload/request",
        json={**item("s.jpg"), "routeSlug": "gallery"},
        headers=live_headers,
    )
    assert single.status_code == 200 and set(single.json()) == {
        "fileId",
        "uploadUrl",
        "key",
        "cdnUrl",
    }


async def test_one_bad_file_refuses_the_whole_batch(
    client: httpx.AsyncClient, account: NewAccount, live_headers: dict[str, str]
) -> None:
    await create_route(
        client,
        live_headers,
        account.project.id,
        slug="gallery",
        maxFileCount=5,
        allowedTypes=["image/*"],
        maxFileSize=100,
    )
    wrong_type = await batch(
        client, live_headers, [item("a.jpg"), item("b.pdf", content_type="application/pdf")]
    )
    assert_error(wrong_type, 415, "FILE_TYPE_NOT_ALLOWED")
    too_big = await batch(client, live_headers, [item("a.jpg"), item("b.jpg", 101)])
    assert_error(too_big, 413, "FILE_TOO_LARGE")
    invalid = await batch(client, live_headers, [item("a.jpg"), item("", 4)])
    assert_error(invalid, 400, "VALIDATION_ERROR")
    assert await listed(client, live_headers) == []
    usage = await client.get("/api/v1/usage", headers=live_headers)
    assert usage.json()["uploadsInFlight"] == 0


async def test_the_whole_batch_counts_against_the_storage_quota(
    client: httpx.AsyncClient, account: NewAccount, live_headers: dict[str, str]
) -> None:
    storage = limits_for(Tier.PRO).storage_bytes
    big = limits_for(Tier.PRO).max_file_size
    assert storage is not None and storage % big == 0
    await create_route(
        client, live_headers, account.project.id, slug="gallery", maxFileCount=100, maxFileSize=big
    )
    # Fill the quota to one big file short of full, in batches that fit.
    left = storage // big - 1
    while left:
        n = min(left, 100)
        filled = await batch(client, live_headers, [item(f"{left}-{i}.jpg", big) for i in range(n)])
        assert filled.status_code == 200, filled.text
        left -= n
    before = (await client.get("/api/v1/usage", headers=live_headers)).json()
    # The first file alone would fit; with the second the batch does not: neither is kept.
    over = await batch(client, live_headers, [item("fits.jpg", big // 2), item("over.jpg", big)])
    assert_error(over, 403, "TIER_LIMIT_EXCEEDED")
    after = (await client.get("/api/v1/usage", headers=live_headers)).json()
    assert after["uploadsInFlight"] == before["uploadsInFlight"] == storage // big - 1
    assert after["storageBytes"] == before["storageBytes"]
    # The same file alone is admitted: it was the batch, not the file, that did not fit.
    alone = await batch(client, live_headers, [item("fits.jpg", big // 2)])
    assert alone.status_code == 200, alone.text


async def test_unknown_route_and_empty_batch(
    client: httpx.AsyncClient, live_headers: dict[str, str]
) -> None:
    assert_error(await batch(client, live_headers, [item("a.jpg")]), 404, "NOT_FOUND")
    assert_error(await batch(client, live_headers, []), 400, "VALIDATION_ERROR")
