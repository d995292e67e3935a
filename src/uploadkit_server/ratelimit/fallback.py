"""``FallbackRateLimiter``: keep deciding when the shared store fails.

Requests go to the primary (Redis). When it raises ``RateLimiterUnavailable`` the wrapper logs
one warning, answers from the in-process fallback window, and stops asking the primary for
``retry_interval`` seconds, so an outage adds no per-request timeouts. After that one request at
a time probes the primary; the first success switches back (logged once too). A Redis outage
therefore never fails a request: limits become per process until Redis returns.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from uploadkit_server.ratelimit.base import RateDecision, RateLimiter, RateLimiterUnavailable

logger = logging.getLogger("uploadkit.ratelimit")


class FallbackRateLimiter:
    def __init__(
        self,
        primary: RateLimiter,
        fallback: RateLimiter,
        *,
        retry_interval: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._primary = primary
        self._fallback = fallback
        self._retry_interval = retry_interval
        self._clock = clock
        self._degraded = False
        self._next_probe = 0.0
        self._probing = False

    @property
    def degraded(self) -> bool:
        """True while decisions come from the fallback window."""
        return self._degraded

    async def hit(self, key: str, *, limit: int) -> RateDecision:
        if self._degraded and (self._probing or self._clock() < self._next_probe):
            return await self._fallback.hit(key, limit=limit)
        # While degraded, only this request (the probe) waits on the primary; others keep
        # using the fallback until it answers.
        probe = self._degraded
        self._probing = self._probing or probe
        try:
            decision = await self._primary.hit(key, limit=limit)
        except RateLimiterUnavailable as error:
            if not self._degraded:
                logger.warning(
                    "%s; limiting in this process until it returns (retrying every %g s)",
                    error,
                    self._retry_interval,
                )
            self._degraded = True
            self._next_probe = self._clock() + self._retry_interval
            return await self._fallback.hit(key, limit=limit)
        finally:
            if probe:
                self._probing = False
        if probe and self._degraded:
            self._degraded = False
            logger.warning("Rate limiter store is back; sharing the window across processes again")
        return decision

    async def close(self) -> None:
        try:
            await self._primary.close()
        finally:
            await self._fallback.close()
