"""``UnlimitedRateLimiter``: accepts every request and keeps nothing.

For measurements that want a request's cost without any counting (``bench/ratelimit_latency.py``
compares it with the real limiters). A server always has a limiter, so the code that counts
requests never branches on whether there is one; this is the limiter that does not limit.
"""

from __future__ import annotations

from uploadkit_server.ratelimit.base import RateDecision, check_limit


class UnlimitedRateLimiter:
    async def hit(self, key: str, *, limit: int) -> RateDecision:
        """Always allowed, with every slot still free (nothing is recorded)."""
        check_limit(limit)
        return RateDecision(allowed=True, limit=limit, remaining=limit, retry_after=0)

    async def close(self) -> None:
        return None
