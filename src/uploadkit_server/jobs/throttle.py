"""How the hourly sweeps run "at most once per interval" inside a runner that ticks more often."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from uploadkit_server.clock import utcnow


class Throttle:
    """``due()`` is true at most once per ``every`` (the first call always), by ``clock``."""

    def __init__(self, every: timedelta, clock: Callable[[], datetime] = utcnow) -> None:
        self.every = every
        self.clock = clock
        self._last_run: datetime | None = None

    def due(self) -> datetime | None:
        """The time of this run when one is due (and counts it as run), else ``None``."""
        now = self.clock()
        if self._last_run is not None and now - self._last_run < self.every:
            return None
        self._last_run = now
        return now
