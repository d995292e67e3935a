"""``RedisRateLimiter``: the exact sliding window shared by every server process.

Layout: one sorted set per API key, ``<prefix><key hash>``; each member is one accepted request
(a random token), scored by its time in microseconds. One Lua script makes each decision
atomically on the server: drop members older than the window, count, add when under the limit.
Time comes from Redis ``TIME``, so processes on machines with skewed clocks share one window
(tests inject a clock instead). Each set expires one window after its last accepted request.
Needs Redis 5 or later (scripts that read ``TIME`` and then write).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from uploadkit_server.ratelimit.base import (
    WINDOW_SECONDS,
    RateDecision,
    RateLimiterUnavailable,
    allowed,
    check_limit,
    refused,
)

DEFAULT_PREFIX = "uploadkit:ratelimit:"
MICROS = 1_000_000

# KEYS[1]: the key's sorted set. ARGV: limit, window (µs), now (µs, or "" for Redis TIME),
# member token. Returns {1, used} when accepted, {0, µs until a slot frees} when refused.
HIT_SCRIPT = """
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local used = redis.call('ZCARD', KEYS[1])
if used < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000))
  return {1, used + 1}
end
local blocking = redis.call('ZRANGE', KEYS[1], used - limit, used - limit, 'WITHSCORES')
return {0, tonumber(blocking[2]) + window - now}
"""


class RedisRateLimiter:
    """Sliding log on Redis; every failure to reach it is raised as ``RateLimiterUnavailable``."""

    def __init__(
        self,
        client: Redis,
        *,
        prefix: str = DEFAULT_PREFIX,
        window: float = WINDOW_SECONDS,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._window_us = round(window * MICROS)
        self._clock = clock
        self._script = client.register_script(HIT_SCRIPT)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        prefix: str = DEFAULT_PREFIX,
        timeout: float = 0.5,
        clock: Callable[[], float] | None = None,
    ) -> RedisRateLimiter:
        """A limiter with its own client. Short timeouts and one immediate retry (a pooled
        connection found dead after a Redis restart), so an outage costs little per request."""
        client = Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), retries=1),
        )
        return cls(client, prefix=prefix, clock=clock)

    def redis_key(self, key: str) -> str:
        return self._prefix + key

    async def hit(self, key: str, *, limit: int) -> RateDecision:
        check_limit(limit)
        now = "" if self._clock is None else str(round(self._clock() * MICROS))
        try:
            accepted, figure = await self._script(
                keys=[self.redis_key(key)],
                args=[limit, self._window_us, now, secrets.token_hex(8)],
            )
        except (TimeoutError, RedisError, OSError) as error:
            raise RateLimiterUnavailable(f"Redis rate limiter unavailable: {error}") from error
        if accepted == 1:
            return allowed(limit=limit, used=int(figure))
        return refused(limit=limit, wait=int(figure) / MICROS)

    async def close(self) -> None:
        await self._client.aclose()
