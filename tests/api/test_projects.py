"""Projects: create, list, get, rename, delete with full cascade, tier limit under concurrency,
and another account's project answering 404."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest
from sqlalchemy import func, select

from tests.conftest import make_account
from tests.support.api import assert_error
from tests.support.uploads import create_route, request_upload, upload_file
from uploadkit_server.core.accounts.service import NewAccount
from uploadkit_server.db.models import (
    Account,
    ApiKey,
    File,
    FileRoute,
    Project,
    Tier,
    UsageMonth,
    WebhookAttempt,
    WebhookDelivery,
)
from uploadkit_server.runtime import Runtime
from uploadkit_server.security import new_id
from uploadkit_server.storage.base import ObjectNotFound

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


async def test_create_returns_project_without_secrets(
    client: httpx.AsyncClient, live_headers: dict[str, str]
) -> None:
    response = await client.post(
        "/api/v1/projects", json={"name": "My Shop!"}, headers=live_headers
    )
    assert response.status_code == 201, response.text
    project = response.json()
    assert set(project) == {"id", "name", "slug", "createdAt", "updatedAt"}
    assert project["id"].startswith("proj_")
    assert project["name"] == "My Shop!"
    assert project["slug"] == "my-shop"
    assert TIMESTAMP.match(project["createdAt"]) and TIMESTAMP.match(project["updatedAt"])

    again = await client.post("/api/v1/projects", json={"name": "my shop"}, headers=live_headers)
    assert again.status_code == 201
    assert again.json()["slug"] == "my-shop-2"


async def test_list_get_and_rename(
    client: httpx.AsyncClient, account: NewAccount, live_headers: dict[str, str]
) -> None:
    created = (
        await client.post("/api/v1/projects", json={"name": "Second"}, headers=live_headers)
    ).json()

    listing = await client.get("/api/v1/projects", headers=live_headers)
    assert listing.status_code == 200
    assert [p["id"] for p in listing.json()["items"]] == [account.project.id, created["id"]]

    fetched = await client.get(f"/api/v1/projects/{created['id']}", headers=live_headers)
    assert fetched.json() == created

    renamed = await client.patch(
        f"/api/v1/projects/{created['id']}", json={"name": "  Renamed  "}, headers=live_headers
    )
    assert renamed.status_code == 200
    body = renamed.json()
    assert body["name"] == "Renamed"
    assert body["slug"] == "second"  # the slug is an identifier: renaming keeps it
    assert body["createdAt"] == created["createdAt"]
    assert body["updatedAt"] >= created["updatedAt"]
    again = await client.get(f"/api/v1/projects/{created['id']}", headers=live_headers)
    assert again.json()["name"] == "Renamed"


async def test_test_key_manages_the_same_projects(
    client: httpx.AsyncClient, account: NewAccount, test_headers: dict[str, str]
) -> None:
    listing = await client.get("/api/v1/projects", headers=test_headers)
    assert [p["id"] for p in listing.json()["items"]] == [account.project.id]


async def test_bad_bodies_are_validation_errors(
    client: httpx.AsyncClient, account: NewAccount, live_headers: dict[str, str]
) -> None:
    for body in (
        {},
        {"name": ""},
        {"name": "   "},
        {"name": "x" * 101},
        {"name": 5},
        {"name": "ok", "extra": 1},
    ):
        assert_error(
            await client.post("/api/v1/projects", json=body, headers=live_headers),
            400,
            "VALIDATION_ERROR",
        )
        assert_error(
            await client.patch(
                f"/api/v1/projects/{account.project.id}", json=body, headers=live_headers
            ),
            400,
            "VALIDATION_ERROR",
        )
    listing = await client.get("/api/v1/projects", headers=live_headers)
    assert len(listing.json()["items"]) == 1


async def test_another_accounts_project_is_not_found(
    client: httpx.AsyncClient, runtime: Runtime, live_headers: dict[str, str]
) -> None:
    other = await make_account(runtime, email="other@example.com", tier=Tier.PRO)
    path = f"/api/v1/projects/{other.project.id}"
    assert_error(await client.get(path, headers=live_headers), 404, "NOT_FOUND")
    assert_error(
        await client.patch(path, json={"name": "mine"}, headers=live_headers), 404, "NOT_FOUND"
    )
    assert_error(await client.delete(path, headers=live_headers), 404, "NOT_FOUND")
    assert_error(
        await client.get("/api/v1/projects/proj_nope", headers=live_headers), 404, "NOT_FOUND"
    )
    # The other account still has it, untouched.
    mine = await client.get(path, headers={"x-api-key": other.live_key})
    assert mine.status_code == 200 and mine.json()["name"] == "Default project"
    listing = await client.get("/api/v1/projects", headers=live_headers)
    assert other.project.id not in [p["id"] for p in listing.json()["items"]]


async def _count(runtime: Runtime, model: type, **where: object) -> int:
    async with runtime.sessionmaker() as session:
        query = select(func.count()).select_from(model)
        for name, value in where.items():
            query = query.where(getattr(model, name) == value)
        return int(await session.scalar(query) or 0)


async def test_delete_cascades_to_keys_routes_and_deliveries(
    client: httpx.AsyncClient, runtime: Runtime, account: NewAccount, live_headers: dict[str, str]
) -> None:
    project = (
        await client.post("/api/v1/projects", json={"name": "Doomed"}, headers=live_headers)
    ).json()
    key = (
        await client.post(f"/api/v1/projects/{project['id']}/keys", json={}, headers=live_headers)
    ).json()["key"]
    async with runtime.sessionmaker() as session, session.begin():
        session.add(
            FileRoute(id=new_id("route"), project_id=project["id"], slug="img", max_file_size=1024)
        )
        delivery = WebhookDelivery(
            id=new_id("msg"),
            project_id=project["id"],
            file_id="file_x",
            event="onUploadComplete",
            url="https://example.com/h",
            payload="{}",
        )
        session.add(delivery)
        await session.flush()
        session.add(WebhookAttempt(delivery_pk=delivery.pk, status_code=500))

    deleted = await client.delete(f"/api/v1/projects/{project['id']}", headers=live_headers)
    assert deleted.status_code == 200
    assert deleted.json() == {"deleted": True}

    assert_error(
        await client.get(f"/api/v1/projects/{project['id']}", headers=live_headers),
        404,
        "NOT_FOUND",
    )
    assert_error(
        await client.get("/api/v1/projects", headers={"x-api-key": key}), 401, "UNAUTHORIZED"
    )
    assert await _count(runtime, Project, id=project["id"]) == 0
    assert await _count(runtime, ApiKey, project_id=project["id"]) == 0
    assert await _count(runtime, FileRoute, project_id=project["id"]) == 0
    assert await _count(runtime, WebhookDelivery, project_id=project["id"]) == 0
    assert await _count(runtime, WebhookAttempt) == 0
    # The rest of the account is untouched.
    assert await _count(runtime, ApiKey, project_id=account.project.id) == 2
    assert (await client.get("/api/v1/projects", headers=live_headers)).status_code == 200


async def test_project_limit_holds_under_concurrent_creation(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    free = await make_account(runtime, email="free@example.com", tier=Tier.FREE)  # 1 of 2 used
    headers = {"x-api-key": free.live_key}
    responses = await asyncio.gather(
        *(
            client.post("/api/v1/projects", json={"name": f"P{i}"}, headers=headers)
            for i in range(10)
        )
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [403] * 9
    for refused in (r for r in responses if r.status_code == 403):
        error = assert_error(refused, 403, "TIER_LIMIT_EXCEEDED")
        assert "billing" in error["suggestion"]
    listing = await client.get("/api/v1/projects", headers=headers)
    assert len(listing.json()["items"]) == 2


async def test_delete_leaves_no_object_behind(
    client: httpx.AsyncClient, runtime: Runtime, account: NewAccount, live_headers: dict[str, str]
) -> None:
    """Stored files (both modes), an upload in flight and an open multipart upload holding a
    part: all gone from storage, and the account's counters given back."""
    kept_route = await create_route(client, live_headers, account.project.id, slug="files")
    kept = await upload_file(client, live_headers, b"k" * 7)
    project = (
        await client.post("/api/v1/projects", json={"name": "Doomed"}, headers=live_headers)
    ).json()
    live = {
        "x-api-key": (
            await client.post(
                f"/api/v1/projects/{project['id']}/keys", json={}, headers=live_headers
            )
        ).json()["key"]
    }
    test = {
        "x-api-key": (
            await client.post(
                f"/api/v1/projects/{project['id']}/keys",
                json={"isTest": True},
                headers=live_headers,
            )
        ).json()["key"]
    }
    await create_route(client, live_headers, project["id"], slug="files", maxFileSize="64MB")

    stored = [
        await upload_file(client, live, b"a" * 100, name="a.jpg"),
        await upload_file(client, live, b"b" * 200, name="b.jpg"),
        await upload_file(client, test, b"t" * 50, name="t.jpg"),
    ]
    in_flight = (await request_upload(client, live, size=300)).json()
    await client.put(
        in_flight["uploadUrl"], content=b"p" * 300, headers={"content-type": "image/jpeg"}
    )
    multipart = (
        await client.post(
            "/api/v1/upload/multipart/init",
            json={
                "fileName": "movie.mp4",
                "fileSize": 6 * 1024 * 1024,
                "contentType": "video/mp4",
                "routeSlug": "files",
            },
            headers=test,
        )
    ).json()
    part = await client.put(
        multipart["parts"][0]["uploadUrl"], content=b"m" * multipart["partSize"]
    )
    assert part.status_code < 300, part.text
    assert await runtime.storage.list_parts(multipart["key"], upload_id=multipart["uploadId"])
    before = await _account(runtime, account.account.id)
    assert before.storage_bytes == 7 + 100 + 200 + 300

    response = await client.delete(f"/api/v1/projects/{project['id']}", headers=live_headers)
    assert response.status_code == 200 and response.json() == {"deleted": True}

    for key in [f["key"] for f in stored] + [in_flight["key"], multipart["key"]]:
        assert await runtime.storage.head(key) is None, key
    with pytest.raises(ObjectNotFound):
        await runtime.storage.list_parts(multipart["key"], upload_id=multipart["uploadId"])
    objects = runtime.settings.data_dir / "storage" / "objects" / project["id"]
    assert not objects.exists() or not any(p.is_file() for p in objects.rglob("*"))
    after = await _account(runtime, account.account.id)
    assert after.storage_bytes == 7
    assert after.test_storage_bytes == 0
    assert await _count(runtime, File, project_id=project["id"]) == 0
    async with runtime.sessionmaker() as session:
        in_flight_counts = (
            await session.scalars(
                select(UsageMonth.uploads_in_flight).where(
                    UsageMonth.account_id == account.account.id
                )
            )
        ).all()
    assert set(in_flight_counts) == {0}
    # The account's other project is untouched.
    assert await runtime.storage.head(kept["key"]) is not None
    assert (
        await client.get(f"/api/v1/routers/{kept_route['id']}", headers=live_headers)
    ).status_code == 200


async def _account(runtime: Runtime, account_id: str) -> Account:
    async with runtime.sessionmaker() as session:
        row = await session.get(Account, account_id)
        assert row is not None
        return row
