"""The limiter contract, on memory and on Redis: exact counts, a sliding window, refused
requests consume nothing, keys are independent."""

from __future__ import annotations

import asyncio

import pytest

from tests.support.clock import FakeClock
from uploadkit_server.ratelimit.base import RateDecision, RateLimiter


async def hits(limiter: RateLimiter, key: str, count: int, *, limit: int) -> list[RateDecision]:
    return [await limiter.hit(key, limit=limit) for _ in range(count)]


async def test_counts_down_then_refuses(limiter: RateLimiter) -> None:
    decisions = await hits(limiter, "k", 4, limit=3)
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0]
    assert all(d.limit == 3 for d in decisions)
    assert [d.retry_after for d in decisions[:3]] == [0, 0, 0]
    assert decisions[3].retry_after == 60


async def test_exactly_n_of_n_plus_k_concurrent_requests_pass(limiter: RateLimiter) -> None:
    decisions = await asyncio.gather(*(limiter.hit("burst", limit=60) for _ in range(85)))
    accepted = [d for d in decisions if d.allowed]
    assert len(accepted) == 60
    assert sorted(d.remaining for d in accepted) == list(range(60))
    assert all(d.retry_after >= 1 and d.remaining == 0 for d in decisions if not d.allowed)


async def test_window_slides_one_request_at_a_time(limiter: RateLimiter, clock: FakeClock) -> None:
    # Three requests ten seconds apart fill a limit of 3.
    for _ in range(3):
        assert (await limiter.hit("k", limit=3)).allowed
        clock.advance(10)
    # Now t=30: the oldest (t=0) leaves at t=60.
    refused = await limiter.hit("k", limit=3)
    assert not refused.allowed and refused.retry_after == 30
    clock.advance(29.5)  # t=59.5: half a second left, rounded up to a whole second
    refused = await limiter.hit("k", limit=3)
    assert not refused.allowed and refused.retry_after == 1
    clock.advance(0.5)  # t=60: exactly one window after the first request, its slot is free
    again = await limiter.hit("k", limit=3)
    assert again.allowed and again.remaining == 0
    # Only that one slot freed: the t=10 request still holds its own until t=70.
    refused = await limiter.hit("k", limit=3)
    assert not refused.allowed and refused.retry_after == 10
    clock.advance(10)
    assert (await limiter.hit("k", limit=3)).allowed


async def test_refused_requests_consume_nothing(limiter: RateLimiter, clock: FakeClock) -> None:
    assert all(d.allowed for d in await hits(limiter, "k", 5, limit=5))
    clock.advance(30)
    assert not any(d.allowed for d in await hits(limiter, "k", 50, limit=5))
    clock.advance(30)  # the five accepted requests left; the fifty refused ones never counted
    assert all(d.allowed for d in await hits(limiter, "k", 5, limit=5))


async def test_keys_have_separate_windows(limiter: RateLimiter) -> None:
    assert all(d.allowed for d in await hits(limiter, "live", 2, limit=2))
    assert not (await limiter.hit("live", limit=2)).allowed
    assert (await limiter.hit("test", limit=2)).allowed


async def test_a_changed_limit_applies_to_the_same_window(
    limiter: RateLimiter, clock: FakeClock
) -> None:
    for _ in range(4):
        assert (await limiter.hit("k", limit=10)).allowed
        clock.advance(5)
    # t=20, four accepted at 0, 5, 10, 15; the limit drops to 2 (a downgrade).
    refused = await limiter.hit("k", limit=2)
    assert not refused.allowed and refused.limit == 2
    # Under a limit of 2, three of the four must leave first: the one at t=10 does at t=70.
    assert refused.retry_after == 50
    raised = await limiter.hit("k", limit=6)
    assert raised.allowed and raised.remaining == 1


async def test_a_limit_below_one_is_a_programming_error(limiter: RateLimiter) -> None:
    with pytest.raises(ValueError):
        await limiter.hit("k", limit=0)
