"""What the hourly storage sweeps share: the throttle, and the key prefix they may touch.

A sweep lists the storage (a paid request on S3), so it runs at most once per ``every``; the
job runner may call it far more often. A subclass does the work in ``sweep``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from uploadkit_server.clock import utcnow
from uploadkit_server.jobs.throttle import Throttle
from uploadkit_server.runtime import Runtime

#: Every object key the server makes starts with its project id (``proj_…``); nothing else in a
#: shared bucket is touched.
SERVER_KEY_PREFIX = "proj_"
#: Listing a bucket is a paid request; once an hour is plenty for a safety net.
DEFAULT_SWEEP_EVERY = timedelta(hours=1)


class StorageSweep:
    """A background job (``await job(runtime)``) that runs at most once per ``every`` and
    returns how many things it removed; a subclass implements ``sweep``."""

    def __init__(
        self,
        *,
        every: timedelta = DEFAULT_SWEEP_EVERY,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.throttle = Throttle(every, clock)

    async def __call__(self, runtime: Runtime) -> int:
        now = self.throttle.due()
        if now is None:
            return 0
        return await self.sweep(runtime, now)

    async def sweep(self, runtime: Runtime, now: datetime) -> int:
        """One pass at ``now``; a backend without the needed capability returns 0."""
        raise NotImplementedError
