"""CPU time one API request costs the server, in process: ``POST /api/v1/upload/request`` and
``GET /api/v1/files?limit=20`` against a reference, an unauthenticated request refused with a
``401`` before any database work (framework, middleware and client cost only).

Run by hand (results go into docs/benchmarks.md)::

    .venv/bin/python bench/request_cpu.py
    .venv/bin/python bench/request_cpu.py --database postgresql://postgres@127.0.0.1/postgres

Requests are sent one at a time through httpx's ASGI transport to the app (an Enterprise account,
a route ``files``, background jobs and the dispatcher off), and ``time.process_time`` is read
around each batch: on a shared machine where wall time mostly measures the wait for a CPU, the
CPU a request uses is what compares. Rounds alternate between the endpoints; the medians are
printed. To compare two versions of the code, run it once per checkout
(``PYTHONPATH=<checkout>/src``).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import secrets
import statistics
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable

import httpx

from uploadkit_server.app import create_app
from uploadkit_server.cli import bootstrap
from uploadkit_server.db.models import Tier
from uploadkit_server.settings import Settings

BODY = {
    "fileName": "photo.jpg",
    "fileSize": 1024,
    "contentType": "image/jpeg",
    "routeSlug": "files",
}


async def run(
    database: str | None, *, requests: int, rounds: int, profile: str | None = None
) -> None:
    data_dir = tempfile.mkdtemp(prefix="uk-cpu-")
    settings = Settings(
        data_dir=data_dir,
        database_url=database or f"sqlite:///{data_dir}/uploadkit.db",
        run_background_jobs=False,
        webhook_dispatcher=False,
    )
    account = await bootstrap.admin_create_account(
        settings, email="bench@example.com", tier=Tier.ENTERPRISE, rate_limit=10**8
    )
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://bench",
            headers={"x-api-key": account["keys"]["live"]},
        ) as client,
    ):
        created = await client.post(
            f"/api/v1/projects/{account['project']['id']}/routers", json={"slug": "files"}
        )
        created.raise_for_status()

        async def post() -> None:
            (await client.post("/api/v1/upload/request", json=BODY)).raise_for_status()

        async def get() -> None:
            (await client.get("/api/v1/files", params={"limit": 20})).raise_for_status()

        async def refused() -> None:
            response = await client.get("/api/v1/files", headers={"x-api-key": ""})
            assert response.status_code == 401

        cases: dict[str, Callable[[], Awaitable[None]]] = {
            "401 reference": refused,
            "POST upload/request": post,
            "GET files?limit=20": get,
        }
        for call in cases.values():  # warm-up, and a full first page for the listing
            for _ in range(30):
                await call()
        if profile is not None:
            await profile_case(cases[profile], requests=requests, name=profile)
            return
        costs: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(rounds):
            for name, call in cases.items():
                started = time.process_time()
                for _ in range(requests):
                    await call()
                costs[name].append((time.process_time() - started) / requests * 1000)
        reference = statistics.median(costs["401 reference"])
        print(f"database {database or 'sqlite'}: CPU ms per request, median of {rounds} rounds")
        for name, values in costs.items():
            median = statistics.median(values)
            print(f"  {name:22} {median:7.3f} ms  ({median / reference:5.1f}x the 401)")


async def profile_case(call: Callable[[], Awaitable[None]], *, requests: int, name: str) -> None:
    """cProfile around ``requests`` calls of one case: where its CPU goes, by cumulative and
    by own time (the function count per request is noise-free, unlike the timings)."""
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(requests):
        await call()
    profiler.disable()
    stats = pstats.Stats(profiler)
    print(f"{name}: {stats.total_calls / requests:.0f} function calls per request")  # type: ignore[attr-defined]
    stats.sort_stats("cumulative").print_stats(45)
    stats.sort_stats("tottime").print_stats(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default=None, help="postgresql://… (a scratch db is made)")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--profile",
        choices=["401 reference", "POST upload/request", "GET files?limit=20"],
        help="profile one case with cProfile instead of timing all",
    )
    args = parser.parse_args()
    if args.database is None:
        asyncio.run(run(None, requests=args.requests, rounds=args.rounds, profile=args.profile))
        return
    name = f"uk_cpu_{secrets.token_hex(4)}"
    subprocess.run(["psql", args.database, "-qc", f"CREATE DATABASE {name}"], check=True)
    try:
        scratch = args.database.rsplit("/", 1)[0] + f"/{name}"
        asyncio.run(run(scratch, requests=args.requests, rounds=args.rounds, profile=args.profile))
    finally:
        subprocess.run(
            ["psql", args.database, "-qc", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"],
            check=True,
        )


if __name__ == "__main__":
    main()
