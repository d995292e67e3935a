"""API keys: create (plaintext once), list masked, revoke (401 from the next request on),
lastUsedAt written off the request path, and the per-project limit under concurrency."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import select

from tests.conftest import make_account
from tests.support.api import assert_error
from tests.support.fixtures import with_settings
from uploadkit_server.core.accounts.service import NewAccount
from uploadkit_server.db.models import ApiKey, Tier
from uploadkit_server.jobs.key_usage import flush_key_usage
from uploadkit_server.runtime import Runtime

API_KEY_FIELDS = {"id", "name", "keyPrefix", "isTest", "createdAt", "lastUsedAt"}


# The periodic flush must not run during a test: each one triggers it by hand.
settings_overrides = with_settings(job_interval=3600)


async def test_create_shows_plaintext_once_and_lists_masked(
    client: httpx.AsyncClient, account: NewAccount, live_headers: dict[str, str]
) -> None:
    path = f"/api/v1/projects/{account.project.id}/keys"
    response = await client.post(path, json={"name": "ci", "isTest": True}, headers=live_headers)
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"apiKey", "key"}
    assert set(body["apiKey"]) == API_KEY_FIELDS
    plaintext = body["key"]
    assert plaintext.startswith("uk_test_")
    assert body["apiKey"]["isTest"] is True and body["apiKey"]["name"] == "ci"
    assert body["apiKey"]["lastUsedAt"] is None
    assert body["apiKey"]["keyPrefix"].startswith("uk_test_")
    assert body["apiKey"]["keyPrefix"] != plaintext

    default = await client.post(path, json={}, headers=live_headers)
    assert default.json()["key"].startswith("uk_live_")
    assert default.json()["apiKey"]["isTest"] is False

    listing = await client.get(path, headers=live_headers)
    assert listing.status_code == 200
    items = listing.json()["items"]
    assert len(items) == 4  # live and test keys of the account, plus the two made here
    assert all(set(item) == API_KEY_FIELDS for item in items)
    assert plaintext not in listing.text and default.json()["key"] not in listing.text

    # The new key works at once.
    assert (
        await client.get("/api/v1/projects", headers={"x-api-key": plaintext})
    ).status_code == 200


async def test_revoked_key_is_refused_from_its_next_request(
    client: httpx.AsyncClient, account: NewAccount, live_headers: dict[str, str]
) -> None:
    created = (
        await client.post(
            f"/api/v1/projects/{account.project.id}/keys", json={"name": "x"}, headers=live_headers
        )
    ).json()
    key_headers = {"x-api-key": created["key"]}
    assert (await client.get("/api/v1/projects", headers=key_headers)).status_code == 200

    revoked = await client.delete(f"/api/v1/keys/{created['apiKey']['id']}", headers=live_headers)
    assert revoked.status_code == 200
    assert revoked.json() == {"revoked": True}

    assert_error(await client.get("/api/v1/projects", headers=key_headers), 401, "UNAUTHORIZED")
    assert_error(
        await client.get("/api/v1/projects", headers={"authorization": f"Bearer {created['key']}"}),
        401,
        "UNAUTHORIZED",
    )
    assert_error(
        await client.delete(f"/api/v1/keys/{created['apiKey']['id']}", headers=live_headers),
        404,
        "NOT_FOUND",
    )
    listing = await client.get(f"/api/v1/projects/{account.project.id}/keys", headers=live_headers)
    assert created["apiKey"]["id"] not in [item["id"] for item in listing.json()["items"]]


async def test_a_key_can_revoke_itself(
    client: httpx.AsyncClient, account: NewAccount, test_headers: dict[str, str]
) -> None:
    keys = (
        await client.get(f"/api/v1/projects/{account.project.id}/keys", headers=test_headers)
    ).json()["items"]
    own = next(item for item in keys if item["isTest"])
    revoked = await client.delete(f"/api/v1/keys/{own['id']}", headers=test_headers)
    assert revoked.json() == {"revoked": True}
    assert_error(await client.get("/api/v1/projects", headers=test_headers), 401, "UNAUTHORIZED")


async def test_another_accounts_keys_are_not_found(
    client: httpx.AsyncClient, runtime: Runtime, live_headers: dict[str, str]
) -> None:
    other = await make_account(runtime, email="other@example.com", tier=Tier.PRO)
    path = f"/api/v1/projects/{other.project.id}/keys"
    assert_error(await client.get(path, headers=live_headers), 404, "NOT_FOUND")
    assert_error(await client.post(path, json={}, headers=live_headers), 404, "NOT_FOUND")
    other_keys = (await client.get(path, headers={"x-api-key": other.live_key})).json()["items"]
    assert_error(
        await client.delete(f"/api/v1/keys/{other_keys[0]['id']}", headers=live_headers),
        404,
        "NOT_FOUND",
    )
    assert (
        await client.get("/api/v1/projects", headers={"x-api-key": other.live_key})
    ).status_code == 200


async def test_bad_bodies_are_validation_errors(
    client: httpx.AsyncClient, account: NewAccount, live_headers: dict[str, str]
) -> None:
    path = f"/api/v1/projects/{account.project.id}/keys"
    for body in ({"name": "x" * 101}, {"isTest": "maybe"}, {"key": "uk_live_chosen"}):
        assert_error(
            await client.post(path, json=body, headers=live_headers), 400, "VALIDATION_ERROR"
        )
    assert len((await client.get(path, headers=live_headers)).json()["items"]) == 2


async def _last_used(runtime: Runtime, key_id: str) -> object:
    async with runtime.sessionmaker() as session:
        return await session.scalar(select(ApiKey.last_used_at).where(ApiKey.id == key_id))


async def test_last_used_at_is_recorded_off_the_request_path(
    client: httpx.AsyncClient, runtime: Runtime, account: NewAccount, live_headers: dict[str, str]
) -> None:
    path = f"/api/v1/projects/{account.project.id}/keys"
    created = (await client.post(path, json={}, headers=live_headers)).json()
    key_id = created["apiKey"]["id"]

    assert (
        await client.get("/api/v1/projects", headers={"x-api-key": created["key"]})
    ).status_code == 200
    # The request itself wrote nothing: the moment waits in memory for the periodic job.
    assert await _last_used(runtime, key_id) is None

    await flush_key_usage(runtime)
    first = await _last_used(runtime, key_id)
    assert first is not None
    listed = next(
        item
        for item in (await client.get(path, headers=live_headers)).json()["items"]
        if item["id"] == key_id
    )
    assert listed["lastUsedAt"] is not None

    # A later use moves it forward; an older moment flushed afterwards does not move it back.
    await client.get("/api/v1/projects", headers={"x-api-key": created["key"]})
    await flush_key_usage(runtime)
    second = await _last_used(runtime, key_id)
    assert second is not None and second >= first  # type: ignore[operator]
    runtime.key_usage.record(key_id, first)  # type: ignore[arg-type]
    await flush_key_usage(runtime)
    assert await _last_used(runtime, key_id) == second


async def test_key_limit_holds_under_concurrent_creation(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    free = await make_account(runtime, email="free@example.com", tier=Tier.FREE)
    headers = {"x-api-key": free.live_key}
    project = (await client.post("/api/v1/projects", json={"name": "B"}, headers=headers)).json()
    path = f"/api/v1/projects/{project['id']}/keys"
    responses = await asyncio.gather(
        *(client.post(path, json={"name": f"k{i}"}, headers=headers) for i in range(10))
    )
    assert sorted(r.status_code for r in responses) == [201, 201] + [403] * 8
    for refused in (r for r in responses if r.status_code == 403):
        assert_error(refused, 403, "TIER_LIMIT_EXCEEDED")
    assert len((await client.get(path, headers=headers)).json()["items"]) == 2

    # Revoking one frees a slot.
    first = next(r.json() for r in responses if r.status_code == 201)
    await client.delete(f"/api/v1/keys/{first['apiKey']['id']}", headers=headers)
    assert (await client.post(path, json={}, headers=headers)).status_code == 201
