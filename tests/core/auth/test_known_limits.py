"""``KnownLimits``: which keys are counted before the database, and for how long."""

from __future__ import annotations

from tests.support.clock import FakeClock
from uploadkit_server.core.auth.rate_limit import KnownLimits


def test_remembers_refreshes_and_expires() -> None:
    clock = FakeClock()
    known = KnownLimits(ttl=30, clock=clock)
    assert known.get("a") is None
    known.remember("a", 60)
    clock.advance(29)
    assert known.get("a") == 60
    known.remember("a", 300)  # a later authentication saw a new tier: the clock restarts
    clock.advance(29)
    assert known.get("a") == 300
    clock.advance(1)
    assert known.get("a") is None  # unknown again: the next request authenticates first


def test_forget_and_bounded_size_dropping_the_least_recently_used() -> None:
    known = KnownLimits(max_entries=2, clock=FakeClock())
    known.remember("a", 1)
    known.remember("b", 2)
    assert known.get("a") == 1  # "a" used: "b" is now the least recently used
    known.remember("c", 3)
    assert (known.get("a"), known.get("b"), known.get("c")) == (1, None, 3)
    known.forget("a")
    known.forget("missing")
    assert known.get("a") is None
