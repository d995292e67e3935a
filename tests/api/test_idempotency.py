"""``Idempotency-Key`` on POSTs: replayed, refused when reused for another request, ``409``
while the first is running, scoped per API key, kept 24 hours; on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
from sqlalchemy import func, select, update

from tests.conftest import make_account
from tests.support.api import assert_error
from tests.support.uploads import create_route
from uploadkit_server.clock import utcnow
from uploadkit_server.core.accounts.service import NewAccount
from uploadkit_server.core.idempotency.service import begin, fingerprint
from uploadkit_server.db.models import IdempotencyKey, Project
from uploadkit_server.jobs.idempotency_purge import purge_idempotency_keys
from uploadkit_server.runtime import Runtime


async def project_count(runtime: Runtime) -> int:
    async with runtime.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(Project)) or 0)


async def test_a_retry_replays_the_first_response_without_running_again(
    client: httpx.AsyncClient, runtime: Runtime, live_headers: dict[str, str]
) -> None:
    headers = {**live_headers, "Idempotency-Key": "create-project-1"}
    before = await project_count(runtime)
    first = await client.post("/api/v1/projects", json={"name": "Once"}, headers=headers)
    again = await client.post("/api/v1/projects", json={"name": "Once"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert await project_count(runtime) == before + 1


async def test_an_error_is_replayed_too(
    client: httpx.AsyncClient, live_headers: dict[str, str]
) -> None:
    headers = {**live_headers, "Idempotency-Key": "bad-complete"}
    body = {"fileId": "file_missing"}
    first = await client.post("/api/v1/upload/complete", json=body, headers=headers)
    again = await client.post("/api/v1/upload/complete", json=body, headers=headers)
    assert_error(first, 404, "UPLOAD_NOT_FOUND")
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"


async def test_the_same_key_with_another_body_is_refused(
    client: httpx.AsyncClient, live_headers: dict[str, str]
) -> None:
    headers = {**live_headers, "Idempotency-Key": "k-reused"}
    assert (await client.post("/api/v1/projects", json={"name": "A"}, headers=headers)).is_success
    other = await client.post("/api/v1/projects", json={"name": "B"}, headers=headers)
    assert_error(other, 422, "IDEMPOTENCY_KEY_REUSED")


async def test_keys_are_scoped_per_api_key(
    client: httpx.AsyncClient, runtime: Runtime, account: NewAccount
) -> None:
    other = await make_account(runtime, email="other@example.com")
    body = {"name": "Same key"}
    mine = await client.post(
        "/api/v1/projects",
        json=body,
        headers={"x-api-key": account.live_key, "Idempotency-Key": "shared"},
    )
    theirs = await client.post(
        "/api/v1/projects",
        json=body,
        headers={"x-api-key": other.live_key, "Idempotency-Key": "shared"},
    )
    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["id"] != theirs.json()["id"]
    assert "idempotent-replayed" not in theirs.headers


async def test_a_duplicate_while_the_first_runs_gets_409(
    client: httpx.AsyncClient, runtime: Runtime, account: NewAccount
) -> None:
    """The first request's claim is in the database: a duplicate from any process sees it."""
    from uploadkit_server.security import hash_api_key

    body = b'{"name":"Slow"}'
    claimed = await begin(
        runtime.sessionmaker,
        scope=hash_api_key(account.live_key),
        key="in-flight",
        fingerprint=fingerprint("POST", "/api/v1/projects", b"", body),
    )
    assert claimed is None  # this one "runs"
    duplicate = await client.post(
        "/api/v1/projects",
        content=body,
        headers={
            "x-api-key": account.live_key,
            "Idempotency-Key": "in-flight",
            "content-type": "application/json",
        },
    )
    assert_error(duplicate, 409, "IDEMPOTENCY_KEY_IN_USE")


async def test_concurrent_duplicates_run_once(
    client: httpx.AsyncClient, runtime: Runtime, live_headers: dict[str, str]
) -> None:
    headers = {**live_headers, "Idempotency-Key": "race"}
    before = await project_count(runtime)
    responses = await asyncio.gather(
        *[client.post("/api/v1/projects", json={"name": "Race"}, headers=headers) for _ in range(5)]
    )
    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) <= {201, 409} and 201 in statuses, statuses
    assert await project_count(runtime) == before + 1


async def test_after_24_hours_the_key_is_forgotten(
    client: httpx.AsyncClient, runtime: Runtime, live_headers: dict[str, str]
) -> None:
    headers = {**live_headers, "Idempotency-Key": "old"}
    first = await client.post("/api/v1/projects", json={"name": "Old"}, headers=headers)
    async with runtime.sessionmaker() as session, session.begin():
        await session.execute(
            update(IdempotencyKey).values(created_at=utcnow() - timedelta(hours=25))
        )
    again = await client.post("/api/v1/projects", json={"name": "Old"}, headers=headers)
    assert again.status_code == 201 and again.json()["id"] != first.json()["id"]

    async with runtime.sessionmaker() as session, session.begin():
        await session.execute(
            update(IdempotencyKey).values(created_at=utcnow() - timedelta(hours=25))
        )
    await purge_idempotency_keys(runtime)
    async with runtime.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(IdempotencyKey)) == 0


async def test_requests_that_did_not_run_are_not_kept(
    client: httpx.AsyncClient, account: NewAccount, live_headers: dict[str, str]
) -> None:
    """A 401 (bad key) passes through; a later request with the key runs."""
    bad = await client.post(
        "/api/v1/projects",
        json={"name": "X"},
        headers={"x-api-key": "uk_live_wrong", "Idempotency-Key": "k401"},
    )
    assert_error(bad, 401, "UNAUTHORIZED")
    headers = {**live_headers, "Idempotency-Key": "k401"}
    assert (
        await client.post("/api/v1/projects", json={"name": "X"}, headers=headers)
    ).status_code == 201


async def test_a_malformed_key_is_a_400(
    client: httpx.AsyncClient, account: NewAccount, live_headers: dict[str, str]
) -> None:
    await create_route(client, live_headers, account.project.id)
    response = await client.post(
        "/api/v1/projects",
        json={"name": "X"},
        headers={**live_headers, "Idempotency-Key": "k" * 256},
    )
    assert_error(response, 400, "VALIDATION_ERROR")


async def test_a_body_the_cap_refuses_is_the_same_400_with_a_key(
    client: httpx.AsyncClient, runtime: Runtime, live_headers: dict[str, str]
) -> None:
    before = await project_count(runtime)
    headers = {**live_headers, "Idempotency-Key": "not-utf8", "Content-Type": "application/json"}
    refused = await client.post("/api/v1/projects", content=b'{"name": "\xff"}', headers=headers)
    assert_error(refused, 400, "VALIDATION_ERROR")
    assert await project_count(runtime) == before
