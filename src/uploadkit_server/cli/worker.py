"""``uploadkit worker``: the background half of a server without HTTP — the webhook dispatcher
and the periodic jobs — for deployments that run them in separate processes.

Example::

    UPLOADKIT_DATABASE_URL=postgresql://db/uploadkit uploadkit worker
"""

from __future__ import annotations

import asyncio
import contextlib
import signal

from uploadkit_server.app import build_runtime, close_runtime
from uploadkit_server.background import BackgroundWork
from uploadkit_server.settings import Settings


async def serve_worker(settings: Settings, *, stop: asyncio.Event) -> None:
    """Run the dispatcher and the periodic jobs until ``stop`` is set."""
    runtime = await build_runtime(settings)
    try:
        async with BackgroundWork.for_worker(runtime):
            await stop.wait()
    finally:
        await close_runtime(runtime)


def run_worker(settings: Settings) -> None:
    """Blocking entry point: runs until SIGINT or SIGTERM."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):  # not on Windows
                loop.add_signal_handler(signum, stop.set)
        await serve_worker(settings, stop=stop)

    asyncio.run(main())
