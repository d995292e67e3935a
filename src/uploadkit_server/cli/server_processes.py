"""``run_server``: the app under uvicorn, in one process or in several, with ``serve``'s settings.

One process (the default): the app factory is handed the settings object itself, nothing goes
through the environment. Several (``--workers N``): uvicorn starts each worker as a fresh
interpreter (multiprocessing "spawn") and, for that case, takes the application only as an
import string, which it calls with no arguments; a worker receives nothing from this process
but its environment. So each worker builds its ``Settings`` from the same environment and
``.env`` as this process did, and the values ``serve`` decided for this run itself are written
to the environment first, in ``export_to_worker_processes`` and nowhere else.
"""

from __future__ import annotations

import os
import shutil
from functools import partial
from typing import Any

import uvicorn

from uploadkit_server.observability.metrics import MULTIPROC_ENV
from uploadkit_server.settings import Settings

#: What each worker process imports and calls (``create_app()`` reads ``Settings()``).
WORKER_APP_FACTORY = "uploadkit_server.app:create_app"


def run_server(settings: Settings, *, workers: int, **uvicorn_options: Any) -> None:
    """Serve until stopped; ``uvicorn_options`` go to ``uvicorn.run`` (host, port, TLS …)."""
    if workers == 1:
        from uploadkit_server.app import create_app

        uvicorn.run(partial(create_app, settings), factory=True, **uvicorn_options)
        return
    export_to_worker_processes(settings)
    uvicorn.run(WORKER_APP_FACTORY, factory=True, workers=workers, **uvicorn_options)


def export_to_worker_processes(settings: Settings) -> None:
    """Write to this process's environment what worker processes started after it must share.

    - ``UPLOADKIT_PUBLIC_URL``: ``serve`` defaults it to its own address, which a worker's own
      ``Settings()`` would not know.
    - ``PROMETHEUS_MULTIPROC_DIR``: prometheus-client reads it from the environment, when a
      worker imports it, to keep that worker's metrics in files there, so a scrape of any worker
      sums them all. Emptied first so no dead process counts; one set by the operator is kept.
    """
    os.environ["UPLOADKIT_PUBLIC_URL"] = settings.public_url
    if not os.environ.get(MULTIPROC_ENV):
        metrics_dir = settings.data_dir / "metrics"
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True)
        os.environ[MULTIPROC_ENV] = str(metrics_dir)
