"""Redis stopped mid-run, through HTTP: requests keep being served (never a 500), limited by the
in-process window, the outage is logged once, and the server goes back to Redis by itself.

Uses a private ``redis-server`` on a free port; the shared Redis is never stopped."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import update

from tests.conftest import make_account
from tests.support.redis_server import PrivateRedis
from uploadkit_server.db.models import Account, Tier
from uploadkit_server.runtime import Runtime
from uploadkit_server.security import hash_api_key

PREFIX = "outage:"


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def settings_overrides(private_redis: PrivateRedis) -> dict[str, object]:
    # Retry interval 0: every request while degraded probes Redis, so the test needs no waiting.
    return {
        "redis_url": private_redis.url,
        "rate_limit_key_prefix": PREFIX,
        "redis_retry_interval": 0,
    }


async def stored_requests(url: str, key: str) -> int:
    client = Redis.from_url(url)
    try:
        return int(await client.zcard(PREFIX + hash_api_key(key)))
    finally:
        await client.aclose()


async def test_redis_outage_degrades_to_the_process_window_and_recovers(
    client: httpx.AsyncClient,
    runtime: Runtime,
    private_redis: PrivateRedis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="uploadkit.ratelimit")
    new = await make_account(runtime, email="ent@example.com", tier=Tier.ENTERPRISE)
    async with runtime.sessionmaker() as session, session.begin():
        await session.execute(
            update(Account).where(Account.id == new.account.id).values(rate_limit=3)
        )
    url, headers = f"/api/v1/projects/{new.project.id}/routers", {"x-api-key": new.live_key}

    first = await client.get(url, headers=headers)
    assert first.status_code == 200 and first.headers["X-RateLimit-Remaining"] == "2"
    assert await stored_requests(private_redis.url, new.live_key) == 1

    private_redis.stop()
    during = [await client.get(url, headers=headers) for _ in range(5)]
    # The process window starts empty: three more pass, then it limits as Redis did.
    assert [r.status_code for r in during] == [200, 200, 200, 429, 429]
    assert [r.headers["X-RateLimit-Remaining"] for r in during] == ["2", "1", "0", "0", "0"]
    assert during[3].json()["error"]["code"] == "RATE_LIMITED"
    outage = [r.getMessage() for r in caplog.records if r.name == "uploadkit.ratelimit"]
    assert len(outage) == 1 and "unavailable" in outage[0]

    private_redis.start()  # back, and empty
    after = await client.get(url, headers={"x-api-key": new.test_key})
    assert after.status_code == 200 and after.headers["X-RateLimit-Remaining"] == "2"
    assert await stored_requests(private_redis.url, new.test_key) == 1
    again = await client.get(url, headers=headers)
    assert again.status_code == 200 and again.headers["X-RateLimit-Remaining"] == "2"
    assert await stored_requests(private_redis.url, new.live_key) == 1
    logs = [r.getMessage() for r in caplog.records if r.name == "uploadkit.ratelimit"]
    assert len(logs) == 2 and "back" in logs[1]
