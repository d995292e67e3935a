"""Rate limiting through HTTP, on both databases and both limiter backends: the headers on every
authenticated response, exactly N of N+k concurrent requests, 429s that never reach the
database, 401s that count nothing, separate live and test windows, the account's tier."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import event, func, update

from tests.conftest import make_account
from tests.support.api import assert_error
from tests.support.clock import FakeClock
from tests.support.redis_keys import delete_prefixed, new_prefix, prefixed_keys
from tests.support.services import TEST_REDIS_URL, require_service
from tests.support.uploads import complete, create_route, request_upload
from uploadkit_server.core.accounts.service import NewAccount, set_tier
from uploadkit_server.db.models import Account, ApiKey, Tier
from uploadkit_server.ratelimit.memory import MemoryRateLimiter
from uploadkit_server.ratelimit.redis import RedisRateLimiter
from uploadkit_server.runtime import Runtime
from uploadkit_server.settings import Settings

MESSAGE = re.compile(r"^Rate limit exceeded\. Retry after (\d+) seconds$")


@pytest.fixture(params=["memory", "redis"])
async def settings_overrides(request: pytest.FixtureRequest) -> AsyncIterator[dict[str, object]]:
    # The dispatcher's polling would show up among the statements counted below.
    quiet: dict[str, object] = {"webhook_dispatcher": False}
    if request.param == "memory":
        yield quiet
        return
    require_service("Redis", TEST_REDIS_URL, 6379)
    prefix = new_prefix()
    yield {**quiet, "redis_url": TEST_REDIS_URL, "rate_limit_key_prefix": prefix}
    await delete_prefixed(TEST_REDIS_URL, prefix)


async def enterprise_account(runtime: Runtime, *, email: str, rate_limit: int) -> NewAccount:
    new = await make_account(runtime, email=email, tier=Tier.ENTERPRISE)
    async with runtime.sessionmaker() as session, session.begin():
        await session.execute(
            update(Account).where(Account.id == new.account.id).values(rate_limit=rate_limit)
        )
    return new


def routers(new: NewAccount) -> str:
    """An authenticated endpoint every account can call."""
    return f"/api/v1/projects/{new.project.id}/routers"


def assert_rate_limited(response: httpx.Response, *, limit: int) -> int:
    error = assert_error(response, 429, "RATE_LIMITED")
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    match = MESSAGE.match(str(error["message"]))
    assert match is not None and int(match.group(1)) == retry_after
    assert response.headers["X-RateLimit-Limit"] == str(limit)
    assert response.headers["X-RateLimit-Remaining"] == "0"
    return retry_after


async def test_every_authenticated_response_carries_the_headers(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    free = await make_account(runtime, email="free@example.com", tier=Tier.FREE)
    headers = {"x-api-key": free.live_key}
    first = await client.get(routers(free), headers=headers)
    assert first.status_code == 200
    assert (first.headers["X-RateLimit-Limit"], first.headers["X-RateLimit-Remaining"]) == (
        "60",
        "59",
    )
    assert "Retry-After" not in first.headers
    # An error after authentication carries them too, and counts.
    missing = await client.get("/api/v1/routers/route_missing", headers=headers)
    assert_error(missing, 404, "NOT_FOUND")
    assert missing.headers["X-RateLimit-Remaining"] == "58"
    bearer = await client.get(routers(free), headers={"Authorization": f"Bearer {free.live_key}"})
    assert bearer.headers["X-RateLimit-Remaining"] == "57"


async def test_tier_sets_the_limit(client: httpx.AsyncClient, runtime: Runtime) -> None:
    for tier, limit in [(Tier.FREE, 60), (Tier.PRO, 300), (Tier.TEAM, 1000)]:
        new = await make_account(runtime, email=f"{tier.value}@example.com", tier=tier)
        response = await client.get(routers(new), headers={"x-api-key": new.live_key})
        assert response.headers["X-RateLimit-Limit"] == str(limit)
    custom = await enterprise_account(runtime, email="big@example.com", rate_limit=2500)
    response = await client.get(routers(custom), headers={"x-api-key": custom.live_key})
    assert response.headers["X-RateLimit-Limit"] == "2500"


async def test_exactly_n_of_n_plus_k_concurrent_requests_pass(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    free = await make_account(runtime, email="free@example.com", tier=Tier.FREE)
    url, headers = routers(free), {"x-api-key": free.live_key}
    responses = await asyncio.gather(*(client.get(url, headers=headers) for _ in range(75)))
    ok = [r for r in responses if r.status_code == 200]
    assert len(ok) == 60
    assert sorted(int(r.headers["X-RateLimit-Remaining"]) for r in ok) == list(range(60))
    refused = [r for r in responses if r.status_code != 200]
    assert len(refused) == 15
    for response in refused:
        assert_rate_limited(response, limit=60)


async def test_refused_requests_never_reach_the_database(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    small = await enterprise_account(runtime, email="small@example.com", rate_limit=2)
    headers = {"x-api-key": small.live_key}
    statements: list[str] = []

    def record(*args: Any) -> None:
        # The dispatcher's polls and the process's own jobs use the same engine: not requests.
        task = asyncio.current_task()
        if task is None or task.get_name() not in {"uploadkit-webhooks", "uploadkit-jobs"}:
            statements.append(str(args[2]))

    for _ in range(2):
        assert (await client.get(routers(small), headers=headers)).status_code == 200
    event.listen(runtime.engine.sync_engine, "before_cursor_execute", record)
    try:
        for _ in range(5):
            assert_rate_limited(await client.get(routers(small), headers=headers), limit=2)
    finally:
        event.remove(runtime.engine.sync_engine, "before_cursor_execute", record)
    assert statements == []


async def test_unknown_keys_get_401_and_count_nothing(
    client: httpx.AsyncClient, runtime: Runtime, settings: Settings
) -> None:
    unknown = {"x-api-key": "uk_live_" + "x" * 40}
    for _ in range(3):
        response = await client.get("/api/v1/projects/proj_x/routers", headers=unknown)
        assert_error(response, 401, "UNAUTHORIZED")
        assert "X-RateLimit-Limit" not in response.headers
    if settings.redis_url:
        assert await prefixed_keys(settings.redis_url, settings.rate_limit_key_prefix) == []
    else:
        assert isinstance(runtime.rate_limiter, MemoryRateLimiter)
        assert runtime.rate_limiter.tracked_keys == 0


async def test_live_and_test_keys_have_separate_windows(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    small = await enterprise_account(runtime, email="small@example.com", rate_limit=2)
    live, test = {"x-api-key": small.live_key}, {"x-api-key": small.test_key}
    assert [(await client.get(routers(small), headers=live)).status_code for _ in range(3)] == [
        200,
        200,
        429,
    ]
    response = await client.get(routers(small), headers=test)
    assert response.status_code == 200
    assert response.headers["X-RateLimit-Remaining"] == "1"


async def test_a_tier_change_applies_from_the_next_request(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    free = await make_account(runtime, email="free@example.com", tier=Tier.FREE)
    headers = {"x-api-key": free.live_key}
    assert (await client.get(routers(free), headers=headers)).headers["X-RateLimit-Limit"] == "60"
    async with runtime.sessionmaker() as session, session.begin():
        await set_tier(session, account_id=free.account.id, tier=Tier.TEAM)
    # This request was counted under the limit known before it; it learns the new one.
    await client.get(routers(free), headers=headers)
    after = await client.get(routers(free), headers=headers)
    assert after.headers["X-RateLimit-Limit"] == "1000"
    assert after.headers["X-RateLimit-Remaining"] == str(1000 - 3)


async def test_a_revoked_key_is_refused_and_forgotten(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    free = await make_account(runtime, email="free@example.com", tier=Tier.FREE)
    headers = {"x-api-key": free.live_key}
    assert (await client.get(routers(free), headers=headers)).status_code == 200
    async with runtime.sessionmaker() as session, session.begin():
        await session.execute(
            update(ApiKey).where(ApiKey.account_id == free.account.id).values(revoked_at=func.now())
        )
    for _ in range(2):
        response = await client.get(routers(free), headers=headers)
        assert_error(response, 401, "UNAUTHORIZED")
        assert "X-RateLimit-Limit" not in response.headers


async def test_window_slides_over_http(
    client: httpx.AsyncClient, runtime: Runtime, settings: Settings
) -> None:
    # The same backend as configured, on a clock the test moves.
    clock = FakeClock()
    previous = runtime.rate_limiter
    assert previous is not None
    await previous.close()
    if settings.redis_url:
        runtime.rate_limiter = RedisRateLimiter.from_url(
            settings.redis_url, prefix=settings.rate_limit_key_prefix, clock=clock
        )
    else:
        runtime.rate_limiter = MemoryRateLimiter(clock=clock)
    small = await enterprise_account(runtime, email="small@example.com", rate_limit=2)
    headers = {"x-api-key": small.live_key}
    assert (await client.get(routers(small), headers=headers)).status_code == 200
    clock.advance(20)
    assert (await client.get(routers(small), headers=headers)).status_code == 200
    clock.advance(10)
    assert assert_rate_limited(await client.get(routers(small), headers=headers), limit=2) == 30
    clock.advance(30)  # the first request leaves the window; the second holds on until t=80
    response = await client.get(routers(small), headers=headers)
    assert response.status_code == 200 and response.headers["X-RateLimit-Remaining"] == "0"
    assert assert_rate_limited(await client.get(routers(small), headers=headers), limit=2) == 20


async def test_storage_and_cdn_requests_are_not_counted(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    small = await enterprise_account(runtime, email="small@example.com", rate_limit=10)
    headers = {"x-api-key": small.live_key}
    await create_route(client, headers, small.project.id)  # 1
    ticket = await request_upload(client, headers, size=5, content_type="text/plain")  # 2
    assert ticket.headers["X-RateLimit-Remaining"] == "8"
    put = await client.put(
        ticket.json()["uploadUrl"], content=b"hello", headers={"content-type": "text/plain"}
    )
    assert put.status_code < 300 and "X-RateLimit-Limit" not in put.headers
    done = await complete(client, headers, ticket.json()["fileId"])  # 3
    assert done.headers["X-RateLimit-Remaining"] == "7"
    for _ in range(12):  # more than the limit; a key header changes nothing
        cdn = await client.get(done.json()["url"], headers=headers)
        assert cdn.status_code == 200 and cdn.content == b"hello"
        assert "X-RateLimit-Limit" not in cdn.headers
    after = await client.get(routers(small), headers=headers)  # 4
    assert after.status_code == 200 and after.headers["X-RateLimit-Remaining"] == "6"
