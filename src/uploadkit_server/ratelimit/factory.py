"""Pick the rate limiter from settings: Redis (with an in-process fallback) when
``UPLOADKIT_REDIS_URL`` is set, else the in-memory window."""

from __future__ import annotations

from uploadkit_server.ratelimit.base import RateLimiter
from uploadkit_server.ratelimit.fallback import FallbackRateLimiter
from uploadkit_server.ratelimit.memory import MemoryRateLimiter
from uploadkit_server.settings import Settings


def create_rate_limiter(settings: Settings) -> RateLimiter:
    if not settings.redis_url:
        return MemoryRateLimiter()
    from uploadkit_server.ratelimit.redis import RedisRateLimiter

    return FallbackRateLimiter(
        RedisRateLimiter.from_url(
            settings.redis_url,
            prefix=settings.rate_limit_key_prefix,
            timeout=settings.redis_timeout,
        ),
        MemoryRateLimiter(),
        retry_interval=settings.redis_retry_interval,
    )
