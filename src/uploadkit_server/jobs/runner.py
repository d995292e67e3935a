"""``JobRunner``: runs a list of periodic jobs, one after another, every ``interval`` seconds.

The jobs themselves (expiry, purges, sweeps, flushes) are listed in ``jobs/schedule.py``;
``background.py`` decides which runners a process starts. Each job is an async function of the
runtime; one failing run is logged and does not stop the loop. Jobs must be safe when several
processes run them at once, and when cancelled mid-run (a stop cancels the loop).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from uploadkit_server.runtime import Runtime

logger = logging.getLogger("uploadkit.jobs")

Job = Callable[[Runtime], Awaitable[object]]


@dataclass
class JobRunner:
    runtime: Runtime
    jobs: Sequence[Job]
    interval: float
    _task: asyncio.Task[None] | None = None

    async def run_once(self) -> None:
        for job in self.jobs:
            try:
                await job(self.runtime)
            except Exception:
                logger.exception("background job %s failed", getattr(job, "__name__", job))

    async def _loop(self) -> None:
        while True:
            await self.run_once()
            await asyncio.sleep(self.interval)

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="uploadkit-jobs")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
