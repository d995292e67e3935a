"""Counting an API request against its key's window, before the database is touched.

The limit depends on the account's tier, which lives in the database. ``KnownLimits`` keeps,
per process, the limit of each key hash it authenticated recently, so a known key is counted
(and a flood refused) before any query. A key not in it is authenticated first and counted
after, so unknown or garbage keys get their ``401`` without creating a window or using a slot.
Entries live ``ttl`` seconds, so a tier change shows within that time even while every request
of the key is refused; any successful authentication refreshes the entry at once.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from uploadkit_server.errors import RateLimited
from uploadkit_server.ratelimit.base import RateDecision, RateLimiter

KNOWN_LIMIT_TTL = 30.0
KNOWN_LIMIT_MAX_ENTRIES = 100_000


class KnownLimits:
    """Key hash -> requests per minute, bounded (least recently used go first) and short-lived."""

    def __init__(
        self,
        *,
        ttl: float = KNOWN_LIMIT_TTL,
        max_entries: int = KNOWN_LIMIT_MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl
        self._max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, tuple[int, float]] = OrderedDict()

    def get(self, key_hash: str) -> int | None:
        entry = self._entries.get(key_hash)
        if entry is None:
            return None
        limit, expires_at = entry
        if self._clock() >= expires_at:
            del self._entries[key_hash]
            return None
        self._entries.move_to_end(key_hash)
        return limit

    def remember(self, key_hash: str, limit: int) -> None:
        self._entries[key_hash] = (limit, self._clock() + self._ttl)
        self._entries.move_to_end(key_hash)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def forget(self, key_hash: str) -> None:
        self._entries.pop(key_hash, None)


def rate_limit_headers(decision: RateDecision) -> dict[str, str]:
    headers = {
        "X-RateLimit-Limit": str(decision.limit),
        "X-RateLimit-Remaining": str(decision.remaining),
    }
    if not decision.allowed:
        headers["Retry-After"] = str(decision.retry_after)
    return headers


async def count_request(limiter: RateLimiter, key_hash: str, *, limit: int) -> RateDecision:
    """Count one request of the key; ``RateLimited`` (with its headers) when over the limit."""
    decision = await limiter.hit(key_hash, limit=limit)
    if not decision.allowed:
        raise RateLimited(
            f"Rate limit exceeded. Retry after {decision.retry_after} seconds",
            headers=rate_limit_headers(decision),
        )
    return decision
