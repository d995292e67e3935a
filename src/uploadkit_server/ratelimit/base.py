"""The rate-limiter interface: one decision per request, for one API key's rolling window.

A limiter keeps, per key, the times of the requests it accepted in the last ``WINDOW_SECONDS``
(an exact sliding log, not buckets), and accepts a request only while fewer than ``limit`` are
in it. Refused requests are not recorded, so they never use up a slot.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

WINDOW_SECONDS = 60


@dataclass(frozen=True, slots=True)
class RateDecision:
    allowed: bool
    limit: int
    remaining: int
    #: Whole seconds until a slot frees (at least 1) when refused; 0 when allowed.
    retry_after: int


class RateLimiterUnavailable(Exception):
    """The limiter's store cannot be reached (Redis down or timing out). Backends raise this
    instead of their client library's errors, so the fallback wrapper need not know them."""


class RateLimiter(Protocol):
    async def hit(self, key: str, *, limit: int) -> RateDecision:
        """Count one request for ``key`` if fewer than ``limit`` were accepted in the window."""
        ...

    async def close(self) -> None: ...


def allowed(*, limit: int, used: int) -> RateDecision:
    """The decision for an accepted request, ``used`` slots (this one included) now taken."""
    return RateDecision(allowed=True, limit=limit, remaining=max(limit - used, 0), retry_after=0)


def refused(*, limit: int, wait: float) -> RateDecision:
    """The decision for a refused request; ``wait`` seconds until the blocking entry leaves."""
    retry_after = max(1, math.ceil(wait))
    return RateDecision(allowed=False, limit=limit, remaining=0, retry_after=retry_after)


def check_limit(limit: int) -> None:
    if limit < 1:
        raise ValueError(f"a rate limit must allow at least one request, not {limit}")
