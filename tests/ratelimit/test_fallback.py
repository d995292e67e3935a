"""Redis stopped mid-run: decisions keep coming (from the in-process window), the outage is
logged once, and the limiter goes back to Redis by itself once Redis answers again.

Uses a private ``redis-server`` on a free port: the shared Redis is never stopped."""

from __future__ import annotations

import logging

import pytest
from redis.asyncio import Redis

from tests.support.clock import FakeClock
from tests.support.redis_server import PrivateRedis
from uploadkit_server.ratelimit.fallback import FallbackRateLimiter
from uploadkit_server.ratelimit.memory import MemoryRateLimiter
from uploadkit_server.ratelimit.redis import RedisRateLimiter


async def stored_requests(url: str, key: str) -> int:
    client = Redis.from_url(url)
    try:
        return int(await client.zcard(key))
    finally:
        await client.aclose()


def outage_logs(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "uploadkit.ratelimit"]


async def test_falls_back_logs_once_and_returns_to_redis(
    private_redis: PrivateRedis, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="uploadkit.ratelimit")
    redis = RedisRateLimiter.from_url(private_redis.url, prefix="rl:", timeout=0.5)
    limiter = FallbackRateLimiter(
        redis, MemoryRateLimiter(clock=clock), retry_interval=10, clock=clock
    )
    try:
        assert (await limiter.hit("k", limit=3)).allowed
        assert await stored_requests(private_redis.url, "rl:k") == 1

        private_redis.stop()
        decisions = [await limiter.hit("k", limit=3) for _ in range(5)]
        # The in-process window takes over: still a limit, never an error.
        assert [d.allowed for d in decisions] == [True, True, True, False, False]
        assert decisions[3].retry_after == 60
        assert limiter.degraded
        logs = outage_logs(caplog)
        assert len(logs) == 1 and "unavailable" in logs[0]

        private_redis.start()  # empty again: no persistence
        assert (await limiter.hit("other", limit=3)).allowed
        assert await stored_requests(private_redis.url, "rl:other") == 0  # not probed yet

        clock.advance(10)
        assert (await limiter.hit("other", limit=3)).allowed
        assert not limiter.degraded
        assert await stored_requests(private_redis.url, "rl:other") == 1
        assert await stored_requests(private_redis.url, "rl:k") == 0
        assert (await limiter.hit("k", limit=3)).allowed
        assert await stored_requests(private_redis.url, "rl:k") == 1
        logs = outage_logs(caplog)
        assert len(logs) == 2 and "back" in logs[1]
    finally:
        await limiter.close()


async def test_redis_down_from_the_start_is_served_in_process(
    private_redis: PrivateRedis, clock: FakeClock
) -> None:
    private_redis.stop()
    limiter = FallbackRateLimiter(
        RedisRateLimiter.from_url(private_redis.url, prefix="rl:", timeout=0.5),
        MemoryRateLimiter(clock=clock),
        retry_interval=10,
        clock=clock,
    )
    try:
        assert [(await limiter.hit("k", limit=1)).allowed for _ in range(2)] == [True, False]
    finally:
        await limiter.close()


async def test_a_hanging_redis_times_out_into_the_fallback(
    private_redis: PrivateRedis, clock: FakeClock
) -> None:
    # SIGSTOP: the port still accepts connections but nothing answers, as with a hung server.
    redis = RedisRateLimiter.from_url(private_redis.url, prefix="rl:", timeout=0.2)
    limiter = FallbackRateLimiter(
        redis, MemoryRateLimiter(clock=clock), retry_interval=10, clock=clock
    )
    try:
        assert (await limiter.hit("k", limit=2)).allowed
        private_redis.pause()
        try:
            decisions = [await limiter.hit("k", limit=2) for _ in range(3)]
            assert [d.allowed for d in decisions] == [True, True, False]
            assert limiter.degraded
        finally:
            private_redis.resume()
        clock.advance(10)
        assert (await limiter.hit("other", limit=2)).allowed
        assert not limiter.degraded
    finally:
        await limiter.close()
