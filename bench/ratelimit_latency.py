"""Added latency of one rate-limit decision, per backend. Run by hand; figures go into
docs/rate-limiting.md.

    .venv/bin/python bench/ratelimit_latency.py [--redis-url redis://127.0.0.1:6379/0] [-n 20000]

Measures, for each backend: sequential decisions (the latency a request pays), and decisions
from 64 concurrent tasks (throughput of one process). Backends: in-memory, Redis (one Lua
script per decision), and the fallback path while Redis is unreachable (what a request pays
during an outage). Keys are spread over 1,000 API keys with a limit no request reaches.
Then whole authenticated HTTP requests (in-process ASGI, SQLite) without counting (the
``UnlimitedRateLimiter``, row "none"), with the memory limiter and with the Redis one, taking
turns, to show the cost on a real request.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import time
from collections.abc import Awaitable, Callable
from functools import partial

from redis.asyncio import Redis

from uploadkit_server.ratelimit.base import RateLimiter
from uploadkit_server.ratelimit.fallback import FallbackRateLimiter
from uploadkit_server.ratelimit.memory import MemoryRateLimiter
from uploadkit_server.ratelimit.redis import RedisRateLimiter
from uploadkit_server.ratelimit.unlimited import UnlimitedRateLimiter

KEYS = [secrets.token_hex(32) for _ in range(1000)]
LIMIT = 1_000_000
CONCURRENCY = 64


async def sequential(limiter: RateLimiter, count: int) -> list[float]:
    samples = []
    for i in range(count):
        start = time.perf_counter_ns()
        await limiter.hit(KEYS[i % len(KEYS)], limit=LIMIT)
        samples.append((time.perf_counter_ns() - start) / 1000)
    return samples


async def concurrent(limiter: RateLimiter, count: int) -> float:
    """Decisions per second with CONCURRENCY tasks sharing the limiter."""
    per_task = count // CONCURRENCY

    async def worker(offset: int) -> None:
        for i in range(per_task):
            await limiter.hit(KEYS[(offset + i) % len(KEYS)], limit=LIMIT)

    start = time.perf_counter()
    await asyncio.gather(*(worker(n * 7) for n in range(CONCURRENCY)))
    return per_task * CONCURRENCY / (time.perf_counter() - start)


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def measure(name: str, make: Callable[[], Awaitable[RateLimiter]], count: int) -> None:
    limiter = await make()
    try:
        await sequential(limiter, min(count, 2000))  # warm up: connections, script cache
        samples = await sequential(limiter, count)
        throughput = await concurrent(limiter, count)
    finally:
        await limiter.close()
    print(
        f"| {name} | {statistics.mean(samples):.1f} | {percentile(samples, 0.5):.1f} "
        f"| {percentile(samples, 0.99):.1f} | {throughput:,.0f} |"
    )


async def end_to_end(redis_url: str, prefix: str, *, requests: int) -> None:
    """Whole authenticated requests (in-process ASGI, SQLite) with each limiter and without.
    The three apps run side by side and take turns, so drift (WAL checkpoints, caches) hits
    each alike."""
    import tempfile
    from contextlib import AsyncExitStack
    from pathlib import Path

    import httpx

    from uploadkit_server.app import create_app
    from uploadkit_server.core.accounts.service import create_account
    from uploadkit_server.db.models import Tier
    from uploadkit_server.settings import Settings

    variants = ("none", "memory", "redis")
    calls: dict[str, Callable[[], Awaitable[httpx.Response]]] = {}
    async with AsyncExitStack() as stack:
        for variant in variants:
            directory = stack.enter_context(tempfile.TemporaryDirectory())
            settings = Settings(
                _env_file=None,  # type: ignore[call-arg]
                data_dir=Path(directory),
                secret_key="bench-secret-key",
                run_background_jobs=False,
                redis_url=redis_url if variant == "redis" else None,
                rate_limit_key_prefix=prefix,
            )
            app = create_app(settings)
            await stack.enter_async_context(app.router.lifespan_context(app))
            runtime = app.state.runtime
            if variant == "none":
                await runtime.rate_limiter.close()
                runtime.rate_limiter = UnlimitedRateLimiter()
            async with runtime.sessionmaker() as session, session.begin():
                new = await create_account(
                    session, email="bench@example.com", tier=Tier.ENTERPRISE, rate_limit=LIMIT
                )
            http = await stack.enter_async_context(
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
            )
            url = f"/api/v1/projects/{new.project.id}/routers"
            calls[variant] = partial(http.get, url, headers={"x-api-key": new.live_key})
        samples: dict[str, list[float]] = {variant: [] for variant in variants}
        for round_ in range(requests + 200):
            for variant in variants:
                start = time.perf_counter_ns()
                response = await calls[variant]()
                elapsed = (time.perf_counter_ns() - start) / 1000
                assert response.status_code == 200, response.text
                if round_ >= 200:  # warm-up rounds not counted
                    samples[variant].append(elapsed)
    print(f"\n{requests} GET /projects/{{id}}/routers per variant, taking turns (ASGI, SQLite)\n")
    print("| limiter | mean µs per request | p50 µs | p99 µs |")
    print("|---|---|---|---|")
    for variant in variants:
        values = samples[variant]
        print(
            f"| {variant} | {statistics.mean(values):.0f} | {percentile(values, 0.5):.0f} "
            f"| {percentile(values, 0.99):.0f} |"
        )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("-n", "--count", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=3000, help="HTTP requests per variant")
    args = parser.parse_args()
    prefix = f"bench:{secrets.token_hex(4)}:"

    async def memory() -> RateLimiter:
        return MemoryRateLimiter()

    async def redis() -> RateLimiter:
        return RedisRateLimiter.from_url(args.redis_url, prefix=prefix)

    async def redis_down() -> RateLimiter:
        # Port 1 refuses connections: every decision comes from the fallback window, with a
        # probe of the dead Redis every 5 s (the default retry interval).
        return FallbackRateLimiter(
            RedisRateLimiter.from_url("redis://127.0.0.1:1/0", prefix=prefix),
            MemoryRateLimiter(),
        )

    print(f"{args.count} decisions each; 1,000 keys; {CONCURRENCY} tasks for throughput\n")
    print("| backend | mean µs | p50 µs | p99 µs | decisions/s (64 tasks) |")
    print("|---|---|---|---|---|")
    await measure("memory", memory, args.count)
    try:
        await measure("redis", redis, args.count)
    finally:
        client = Redis.from_url(args.redis_url)
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()
    await measure("redis down (fallback)", redis_down, args.count)
    await end_to_end(args.redis_url, prefix, requests=args.requests)


if __name__ == "__main__":
    asyncio.run(main())
