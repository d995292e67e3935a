"""``MemoryRateLimiter``: the exact sliding window in this process (the embedded default).

Per key, a deque of the monotonic times of accepted requests, oldest first. A decision runs
without awaiting anything, so on one event loop it is atomic: concurrent requests of one key
can never both take the last slot. Idle keys are swept now and then, so memory stays
proportional to the keys active in the last minute.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from uploadkit_server.ratelimit.base import (
    WINDOW_SECONDS,
    RateDecision,
    allowed,
    check_limit,
    refused,
)

#: Sweep idle keys after this many accepted requests (amortised O(1) per request).
SWEEP_EVERY = 1024


class MemoryRateLimiter:
    """Sliding log per key; ``clock`` returns seconds (injectable, so tests move time)."""

    def __init__(
        self, *, window: float = WINDOW_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._window = window
        self._clock = clock
        self._logs: dict[str, deque[float]] = {}
        self._accepted_since_sweep = 0

    async def hit(self, key: str, *, limit: int) -> RateDecision:
        return self.decide(key, limit=limit)

    def decide(self, key: str, *, limit: int) -> RateDecision:
        """The synchronous decision (no await inside: atomic on the event loop)."""
        check_limit(limit)
        now = self._clock()
        horizon = now - self._window
        log = self._logs.get(key)
        if log is not None:
            # An entry exactly one window old has left: no two accepted requests within any
            # half-open 60 s interval exceed the limit.
            while log and log[0] <= horizon:
                log.popleft()
        used = len(log) if log is not None else 0
        if used < limit:
            if log is None:
                log = self._logs[key] = deque()
            log.append(now)
            self._count_for_sweep(horizon)
            return allowed(limit=limit, used=used + 1)
        assert log is not None
        # With a lowered limit the log may hold more than ``limit`` entries: a slot frees when
        # the entry ``limit`` places from the newest leaves.
        blocking = log[used - limit]
        return refused(limit=limit, wait=blocking + self._window - now)

    def _count_for_sweep(self, horizon: float) -> None:
        self._accepted_since_sweep += 1
        if self._accepted_since_sweep < SWEEP_EVERY:
            return
        self._accepted_since_sweep = 0
        idle = [key for key, log in self._logs.items() if not log or log[-1] <= horizon]
        for key in idle:
            del self._logs[key]

    @property
    def tracked_keys(self) -> int:
        return len(self._logs)

    async def close(self) -> None:
        self._logs.clear()
