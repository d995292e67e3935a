"""``BackgroundWork``: a runtime's webhook dispatcher and periodic jobs, started and stopped as one.

``uploadkit serve`` runs it in every server process: the dispatcher unless ``webhook_dispatcher``
is off, the shared jobs (``jobs/schedule.background_jobs``) unless ``run_background_jobs`` is
off, and always the jobs that write what this process recorded in memory
(``process_local_jobs``). ``uploadkit worker`` runs the dispatcher and the shared jobs, without
HTTP.

Stopping undoes starting in reverse order, and every part is stopped even if another fails:
the dispatcher first, so no new attempt starts while the jobs wind down. Attempts in flight are
broken off and their rows handed back at once (results already in are written); a process
killed instead leaves those rows to become due again when their lease lapses. A job cut off
mid-run is safe: jobs are written to tolerate being run by several processes and stopped at
any point.

Example::

    async with BackgroundWork.for_worker(runtime):
        await stop.wait()
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AsyncExitStack
from types import TracebackType
from typing import Protocol

from uploadkit_server.core.webhooks.dispatcher import WebhookDispatcher
from uploadkit_server.db.models import DeliveryStatus
from uploadkit_server.jobs.runner import JobRunner
from uploadkit_server.jobs.schedule import background_jobs, process_local_jobs
from uploadkit_server.runtime import Runtime

logger = logging.getLogger("uploadkit.background")


class BackgroundService(Protocol):
    """Something that runs in its own task between ``start`` and ``stop``."""

    def start(self) -> None: ...

    async def stop(self) -> None: ...


class BackgroundWork:
    def __init__(
        self,
        runtime: Runtime,
        *,
        dispatch_webhooks: bool,
        shared_jobs: bool,
        process_local: bool,
        on_attempt: Callable[[DeliveryStatus], None] | None = None,
    ) -> None:
        interval = runtime.settings.job_interval
        #: Started in this order, stopped in the reverse one (the dispatcher is stopped first).
        self.services: list[BackgroundService] = []
        self.job_count = 0
        for wanted, jobs in (
            (shared_jobs, background_jobs()),
            (process_local, process_local_jobs()),
        ):
            if wanted:
                self.services.append(JobRunner(runtime, jobs, interval=interval))
                self.job_count += len(jobs)
        self.dispatcher: WebhookDispatcher | None = None
        if dispatch_webhooks:
            self.dispatcher = WebhookDispatcher(
                settings=runtime.settings,
                sessionmaker=runtime.sessionmaker,
                wakeup=runtime.delivery_wakeup,
                on_attempt=on_attempt,
            )
            self.services.append(self.dispatcher)
        self._running: AsyncExitStack | None = None

    @classmethod
    def for_server(
        cls, runtime: Runtime, *, on_attempt: Callable[[DeliveryStatus], None] | None = None
    ) -> BackgroundWork:
        """What a server process runs, as its settings say (``on_attempt``: the metrics)."""
        settings = runtime.settings
        return cls(
            runtime,
            dispatch_webhooks=settings.webhook_dispatcher,
            shared_jobs=settings.run_background_jobs,
            process_local=True,
            on_attempt=on_attempt,
        )

    @classmethod
    def for_worker(cls, runtime: Runtime) -> BackgroundWork:
        """What ``uploadkit worker`` runs: it serves no requests, so it has nothing of its own
        in memory to flush."""
        return cls(runtime, dispatch_webhooks=True, shared_jobs=True, process_local=False)

    def start(self) -> None:
        if self._running is not None:
            raise RuntimeError("background work is already running")
        running = AsyncExitStack()
        for service in self.services:
            service.start()
            running.push_async_callback(service.stop)
        self._running = running
        logger.info(
            "background work started: %s, %d periodic jobs",
            "webhook dispatcher" if self.dispatcher is not None else "no webhook dispatcher",
            self.job_count,
        )

    async def stop(self) -> None:
        """Stop everything started, last started first; a no-op when not running."""
        running, self._running = self._running, None
        if running is not None:
            await running.aclose()

    async def __aenter__(self) -> BackgroundWork:
        self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()
