"""``RetryPolicy``: which failed PUTs to storage the SDK sends again, and how long it waits first.

A PUT is tried again after a network error or a ``408``, ``429`` or ``5xx`` answer, at most
``max_retries`` times, waiting ``base_delay * 2**n`` seconds before retry ``n`` (0-based): 1 s,
2 s, 4 s by default. Any other answer is final at once.

Example::

    policy = RetryPolicy(max_retries=5, base_delay=0.5)
    policy.delay(2)  # 2.0 seconds before the third retry
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Backoff before retry ``n`` (0-based) is ``base_delay * 2**n``: 1 s, 2 s, 4 s by default."""

    max_retries: int = 3
    base_delay: float = 1.0

    def delay(self, attempt: int) -> float:
        return float(self.base_delay * 2**attempt)

    def attempts(self) -> range:
        """Attempt numbers from 0: the first try, then one per retry."""
        return range(self.max_retries + 1)

    @staticmethod
    def retryable(status: int) -> bool:
        """Whether an answer with this status is worth another attempt."""
        return status in (408, 429) or status >= 500
