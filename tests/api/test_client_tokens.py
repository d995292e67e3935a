"""Client tokens: minted with an API key, good for the uploads of one route and nothing else."""

from __future__ import annotations

import os
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, update

from tests.support.api import assert_error
from tests.support.uploads import complete, create_route, request_upload
from uploadkit_server.clock import utcnow
from uploadkit_server.core.accounts.service import NewAccount
from uploadkit_server.db.models import ClientToken
from uploadkit_server.jobs.client_token_purge import purge_expired_client_tokens
from uploadkit_server.jobs.schedule import background_jobs
from uploadkit_server.runtime import Runtime

MIB = 1024 * 1024


@pytest.fixture
async def routes(
    client: httpx.AsyncClient, account: NewAccount, live_headers: dict[str, str]
) -> None:
    await create_route(client, live_headers, account.project.id, slug="avatars", maxFileSize="8MB")
    await create_route(client, live_headers, account.project.id, slug="other", maxFileSize="8MB")


async def mint(
    client: httpx.AsyncClient, headers: dict[str, str], **fields: object
) -> dict[str, object]:
    response = await client.post(
        "/api/v1/client-tokens", json={"routeSlug": "avatars", **fields}, headers=headers
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def bearer(token: object) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def test_a_token_uploads_to_its_route_with_fixed_metadata(
    client: httpx.AsyncClient, routes: None, live_headers: dict[str, str]
) -> None:
    minted = await mint(client, live_headers, metadata={"userId": "u1"}, maxFileCount=2)
    assert str(minted["token"]).startswith("ukct_")
    assert set(minted) == {
        "id", "token", "routeSlug", "metadata", "maxFileCount", "maxFileSize", "expiresAt",
    }  # fmt: skip
    headers = bearer(minted["token"])
    data = os.urandom(2000)
    ticket = await request_upload(
        client, headers, size=len(data), route="avatars", metadata={"userId": "forged", "a": 1}
    )
    assert ticket.status_code == 200, ticket.text
    body = ticket.json()
    put = await client.put(body["uploadUrl"], content=data, headers={"content-type": "image/jpeg"})
    assert put.status_code in (200, 201, 204), put.text
    done = await client.post(
        "/api/v1/upload/complete",
        json={"fileId": body["fileId"], "metadata": {"userId": "forged-again"}},
        headers=headers,
    )
    assert done.status_code == 200, done.text
    assert done.json()["metadata"]["userId"] == "u1"

    # The server, with its key, sees the file the browser uploaded.
    listed = await client.get(f"/api/v1/files/{body['key']}", headers=live_headers)
    assert listed.status_code == 200, listed.text
    assert listed.json()["metadata"] == {"userId": "u1", "a": 1}
    assert (await client.get(body["cdnUrl"])).content == data


async def test_a_token_opens_nothing_but_its_uploads(
    client: httpx.AsyncClient, routes: None, account: NewAccount, live_headers: dict[str, str]
) -> None:
    headers = bearer((await mint(client, live_headers))["token"])
    other = await request_upload(client, headers, size=10, route="other")
    assert_error(other, 403, "FORBIDDEN")
    for method, path in [
        ("GET", "/api/v1/files"),
        ("GET", f"/api/v1/projects/{account.project.id}/routers"),
        ("POST", "/api/v1/client-tokens"),
        ("GET", "/api/v1/usage"),
    ]:
        response = await client.request(method, path, headers=headers, json={})
        error = assert_error(response, 403, "FORBIDDEN")
        assert "client token" in error["message"].lower()


async def test_a_token_cannot_complete_another_routes_upload(
    client: httpx.AsyncClient, routes: None, live_headers: dict[str, str]
) -> None:
    theirs = await request_upload(client, live_headers, size=10, route="other")
    assert theirs.status_code == 200, theirs.text
    headers = bearer((await mint(client, live_headers))["token"])
    response = await complete(client, headers, theirs.json()["fileId"])
    assert_error(response, 404, "UPLOAD_NOT_FOUND")


async def test_the_file_budget_and_size_cap_hold(
    client: httpx.AsyncClient, routes: None, live_headers: dict[str, str]
) -> None:
    headers = bearer((await mint(client, live_headers, maxFileSize=1000))["token"])
    assert_error(
        await request_upload(client, headers, size=1001, route="avatars"), 413, "FILE_TOO_LARGE"
    )
    # A refused request gives its file back: the one allowed upload is still there.
    assert (await request_upload(client, headers, size=1000, route="avatars")).status_code == 200
    spent = await request_upload(client, headers, size=10, route="avatars")
    assert "budget" in assert_error(spent, 403, "FORBIDDEN")["message"]


async def test_expired_and_revoked_tokens_are_refused(
    client: httpx.AsyncClient,
    routes: None,
    account: NewAccount,
    live_headers: dict[str, str],
    runtime: Runtime,
) -> None:
    expired = await mint(client, live_headers)
    async with runtime.sessionmaker() as session, session.begin():
        await session.execute(
            update(ClientToken)
            .where(ClientToken.id == expired["id"])
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    response = await request_upload(client, bearer(expired["token"]), size=10, route="avatars")
    assert "expired" in assert_error(response, 401, "UNAUTHORIZED")["message"]

    created = await client.post(
        f"/api/v1/projects/{account.project.id}/keys", json={"name": "web"}, headers=live_headers
    )
    assert created.status_code == 201, created.text
    key = created.json()
    token = (await mint(client, {"x-api-key": key["key"]}))["token"]
    revoke = await client.delete(f"/api/v1/keys/{key['apiKey']['id']}", headers=live_headers)
    assert revoke.status_code in (200, 204), revoke.text
    response = await request_upload(client, bearer(token), size=10, route="avatars")
    assert "revoked" in assert_error(response, 401, "UNAUTHORIZED")["message"]
    garbage = await request_upload(client, bearer("ukct_" + "x" * 40), size=10, route="avatars")
    assert_error(garbage, 401, "UNAUTHORIZED")


async def test_minting_checks_the_route_and_the_body(
    client: httpx.AsyncClient,
    routes: None,
    live_headers: dict[str, str],
    test_headers: dict[str, str],
) -> None:
    missing = await client.post(
        "/api/v1/client-tokens", json={"routeSlug": "nope"}, headers=live_headers
    )
    assert_error(missing, 404, "NOT_FOUND")
    bad = await client.post(
        "/api/v1/client-tokens",
        json={"routeSlug": "avatars", "expiresIn": 999999},
        headers=live_headers,
    )
    assert_error(bad, 400, "VALIDATION_ERROR")
    assert_error(await client.post("/api/v1/client-tokens", json={}), 401, "UNAUTHORIZED")


async def test_multipart_with_a_token(
    client: httpx.AsyncClient, routes: None, live_headers: dict[str, str]
) -> None:
    headers = bearer((await mint(client, live_headers))["token"])
    data = os.urandom(6 * MIB)
    init = await client.post(
        "/api/v1/upload/multipart/init",
        json={
            "fileName": "big.bin",
            "fileSize": len(data),
            "contentType": "application/octet-stream",
            "routeSlug": "avatars",
        },
        headers=headers,
    )
    assert init.status_code == 200, init.text
    ticket = init.json()
    size = ticket["partSize"]
    parts = []
    for part in ticket["parts"]:
        n = part["partNumber"]
        put = await client.put(part["uploadUrl"], content=data[(n - 1) * size : n * size])
        assert put.status_code in (200, 201, 204), put.text
        parts.append({"partNumber": n, "etag": put.headers["etag"]})
    listed = await client.get(
        "/api/v1/upload/multipart/parts",
        params={"fileId": ticket["fileId"], "uploadId": ticket["uploadId"]},
        headers=headers,
    )
    assert listed.status_code == 200, listed.text
    done = await client.post(
        "/api/v1/upload/multipart/complete",
        json={"fileId": ticket["fileId"], "uploadId": ticket["uploadId"], "parts": parts},
        headers=headers,
    )
    assert done.status_code == 200, done.text
    assert done.json()["fileSize"] == len(data)


async def test_expired_tokens_are_purged_and_live_ones_kept(
    client: httpx.AsyncClient, routes: None, live_headers: dict[str, str], runtime: Runtime
) -> None:
    assert purge_expired_client_tokens in background_jobs()
    old = await mint(client, live_headers)
    young = await mint(client, live_headers)
    async with runtime.sessionmaker() as session, session.begin():
        await session.execute(
            update(ClientToken)
            .where(ClientToken.id == old["id"])
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    assert await purge_expired_client_tokens(runtime) == 1
    async with runtime.sessionmaker() as session:
        left = set(await session.scalars(select(ClientToken.id)))
    assert left == {young["id"]}
    response = await request_upload(client, bearer(young["token"]), size=10, route="avatars")
    assert response.status_code == 200, response.text
