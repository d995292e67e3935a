"""The rate-limiter interface: one decision per request, for one API key's rolling window."""

from __future__ import annotations

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


class RateLimiter(Protocol):
    async def hit(self, key: str, *, limit: int) -> RateDecision:
        """Count one request for ``key`` if fewer than ``limit`` were accepted in the window."""
        ...

    async def close(self) -> None: ...
