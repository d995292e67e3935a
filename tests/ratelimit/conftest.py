"""One contract, two backends: every limiter test runs on memory and on the real Redis, with a
clock the test moves (so the window slides without waiting a minute)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.support.clock import FakeClock
from tests.support.redis_keys import delete_prefixed, new_prefix
from tests.support.redis_server import PrivateRedis
from tests.support.services import TEST_REDIS_URL, require_service
from uploadkit_server.ratelimit.base import RateLimiter
from uploadkit_server.ratelimit.memory import MemoryRateLimiter
from uploadkit_server.ratelimit.redis import RedisRateLimiter


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    """A key prefix of this test's own on the shared Redis, emptied afterwards."""
    require_service("Redis", TEST_REDIS_URL, 6379)
    prefix = new_prefix()
    yield prefix
    await delete_prefixed(TEST_REDIS_URL, prefix)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["memory", "redis"])
async def limiter(request: pytest.FixtureRequest, clock: FakeClock) -> AsyncIterator[RateLimiter]:
    if request.param == "memory":
        memory = MemoryRateLimiter(clock=clock)
        yield memory
        await memory.close()
        return
    require_service("Redis", TEST_REDIS_URL, 6379)
    prefix = new_prefix()
    redis = RedisRateLimiter.from_url(TEST_REDIS_URL, prefix=prefix, clock=clock)
    try:
        yield redis
    finally:
        await redis.close()
        await delete_prefixed(TEST_REDIS_URL, prefix)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()
