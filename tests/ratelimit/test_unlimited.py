"""``UnlimitedRateLimiter`` accepts everything and counts nothing (it is not in the contract
suite: it does not limit)."""

from __future__ import annotations

import pytest

from uploadkit_server.ratelimit.base import RateDecision
from uploadkit_server.ratelimit.unlimited import UnlimitedRateLimiter


async def test_every_request_is_allowed_with_every_slot_free() -> None:
    limiter = UnlimitedRateLimiter()
    decisions = [await limiter.hit("key", limit=2) for _ in range(5)]
    assert decisions == [RateDecision(allowed=True, limit=2, remaining=2, retry_after=0)] * 5
    await limiter.close()


async def test_a_limit_below_one_is_refused_as_elsewhere() -> None:
    with pytest.raises(ValueError):
        await UnlimitedRateLimiter().hit("key", limit=0)
