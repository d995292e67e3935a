"""Webhook dispatch benchmark: deliveries per second to a local keep-alive receiver, side by side
with a reference (plain httpx posting the same bodies at the same concurrency, no database),
and the delay from the commit that queued a delivery to its first attempt.

Run by hand (results go into docs/benchmarks.md)::

    .venv/bin/python bench/webhook_throughput.py                      # SQLite
    .venv/bin/python bench/webhook_throughput.py --database postgresql://postgres@127.0.0.1/postgres

For PostgreSQL a scratch database is created next to the one named, and dropped afterwards.
The receiver is a minimal keep-alive HTTP/1.1 server in its own process answering 204, so the
figures are the dispatcher's (claiming, signing, HTTP, recording each attempt), not the
receiver's. Each concurrency runs the reference and the dispatcher alternately, ``--rounds``
times, and prints the ratio of each pair: the machine is shared and noisy, a ratio taken
seconds apart is what compares.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the benchmark shares the test suite's helpers

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from tests.core.webhooks.queueing import queue_deliveries
from tests.support.live_server import free_port

from uploadkit_server.clock import utcnow
from uploadkit_server.core.accounts.service import NewAccount, create_account
from uploadkit_server.core.webhooks.dispatcher import WebhookDispatcher
from uploadkit_server.core.webhooks.wakeup import DeliveryWakeup
from uploadkit_server.db.migrate import migrate
from uploadkit_server.db.models import (
    DeliveryStatus,
    Tier,
    WebhookAttempt,
    WebhookDelivery,
)
from uploadkit_server.db.session import create_engine, create_sessionmaker
from uploadkit_server.settings import Settings

# -- receiver ------------------------------------------------------------------------------


async def _serve(port: int, received: Any) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                await reader.readexactly(length)
                with received.get_lock():
                    received.value += 1
                writer.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=512)
    async with server:
        await server.serve_forever()


def _receiver_main(port: int, received: Any) -> None:
    asyncio.run(_serve(port, received))


# -- helpers -------------------------------------------------------------------------------


async def delivered_count(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    async with sessionmaker() as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(WebhookDelivery)
                .where(WebhookDelivery.status == DeliveryStatus.DELIVERED)
            )
            or 0
        )


async def first_attempt_at(
    sessionmaker: async_sessionmaker[AsyncSession], delivery_id: str
) -> datetime | None:
    async with sessionmaker() as session:
        return await session.scalar(
            select(func.min(WebhookAttempt.attempted_at))
            .join(WebhookDelivery, WebhookDelivery.pk == WebhookAttempt.delivery_pk)
            .where(WebhookDelivery.id == delivery_id)
        )


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


# -- scenarios -----------------------------------------------------------------------------


class Receiver:
    """The receiver process and its request counter (shared memory, so waiting for it costs
    the database nothing)."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self.received = context.Value("q", 0)
        self.port = free_port()
        self.process = context.Process(
            target=_receiver_main, args=(self.port, self.received), daemon=True
        )
        self.url = f"http://127.0.0.1:{self.port}/hook"

    async def start(self) -> None:
        self.process.start()
        for _ in range(1200):  # up to a minute: a spawned process starts slowly on a busy host
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
            except OSError:
                await asyncio.sleep(0.05)
                continue
            writer.close()
            return
        raise RuntimeError("the receiver did not start")

    def count(self) -> int:
        return int(self.received.value)

    async def wait_for(self, total: int) -> None:
        while True:
            if self.count() >= total:
                return
            await asyncio.sleep(0.002)


async def reference_aiohttp(receiver: Receiver, bodies: list[bytes], *, concurrency: int) -> float:
    """Plain aiohttp (the dispatcher's client) POSTing the same bodies with the same
    concurrency, nothing else: the receiver's rate, which the dispatcher is measured against."""
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        queue = list(reversed(bodies))

        async def worker() -> None:
            while queue:
                body = queue.pop()
                async with session.post(
                    receiver.url, data=body, headers={"Content-Type": "application/json"}
                ) as response:
                    assert response.status == 204
                    await response.read()

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return len(bodies) / (time.perf_counter() - started)


async def reference(receiver: Receiver, bodies: list[bytes], *, concurrency: int) -> float:
    """Plain httpx (a keep-alive pool as large as the concurrency) POSTing the same bodies with
    the same concurrency: the client the dispatcher used before, for comparison."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, trust_env=False) as client:
        queue = list(reversed(bodies))

        async def worker() -> None:
            while queue:
                body = queue.pop()
                response = await client.post(
                    receiver.url, content=body, headers={"Content-Type": "application/json"}
                )
                assert response.status_code == 204

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return len(bodies) / (time.perf_counter() - started)


async def queued_bodies(sessionmaker: async_sessionmaker[AsyncSession], count: int) -> list[bytes]:
    async with sessionmaker() as session:
        payloads = (
            await session.scalars(
                select(WebhookDelivery.payload).order_by(WebhookDelivery.pk).limit(count)
            )
        ).all()
    return [payload.encode() for payload in payloads]


async def throughput(
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    owner: NewAccount,
    receiver: Receiver,
    *,
    count: int,
    concurrency: int,
) -> float:
    """Queue ``count`` deliveries, then time one dispatcher from start until every one of them
    is recorded as delivered."""
    await queue_deliveries(
        sessionmaker,
        project_id=owner.project.id,
        account_id=owner.account.id,
        url=receiver.url,
        count=count,
    )
    before = await delivered_count(sessionmaker)
    dispatcher = WebhookDispatcher(
        settings=settings.model_copy(update={"webhook_concurrency": concurrency}),
        sessionmaker=sessionmaker,
    )
    received = receiver.count()
    started = time.perf_counter()
    dispatcher.start()
    await receiver.wait_for(received + count)  # then only the last results are being written
    while True:
        if await delivered_count(sessionmaker) >= before + count:
            break
        await asyncio.sleep(0.005)
    elapsed = time.perf_counter() - started
    await dispatcher.stop()
    return count / elapsed


async def latency_samples(
    sessionmaker: async_sessionmaker[AsyncSession],
    owner: NewAccount,
    url: str,
    *,
    samples: int,
) -> list[float]:
    """Milliseconds from the queueing commit to the first attempt, one delivery at a time."""
    delays: list[float] = []
    for _ in range(samples):
        [delivery_id] = await queue_deliveries(
            sessionmaker,
            project_id=owner.project.id,
            account_id=owner.account.id,
            url=url,
            count=1,
        )
        committed = utcnow()
        while True:
            attempted = await first_attempt_at(sessionmaker, delivery_id)
            if attempted is not None:
                break
            await asyncio.sleep(0.005)
        delays.append((attempted - committed).total_seconds() * 1000)
        await asyncio.sleep(0.05 + secrets.randbelow(500) / 1000)  # out of step with any poll
    return delays


def describe(name: str, delays: list[float]) -> str:
    return (
        f"{name}: p50 {statistics.median(delays):.1f} ms, p95 {percentile(delays, 0.95):.1f} ms, "
        f"p99 {percentile(delays, 0.99):.1f} ms, max {max(delays):.1f} ms (n={len(delays)})"
    )


async def run(
    database: str | None, count: int, concurrencies: list[int], rounds: int, samples: int
) -> None:
    scratch = None
    workdir = Path(tempfile.mkdtemp(prefix="uk-bench-"))
    if database:
        scratch = f"uk_bench_{secrets.token_hex(4)}"
        admin = await asyncpg.connect(database)
        await admin.execute(f'CREATE DATABASE "{scratch}"')
        await admin.close()
        url = f"{database.rpartition('/')[0]}/{scratch}"
    else:
        url = f"sqlite:///{workdir / 'bench.db'}"
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        database_url=url,
        data_dir=workdir,
        webhook_allow_private=True,
        secret_key="bench",
    )
    engine = create_engine(settings.effective_database_url)
    await migrate(engine)
    wakeup = DeliveryWakeup()  # as a runtime has: commits here wake the dispatchers below
    sessionmaker = wakeup.wake_on_commit(create_sessionmaker(engine))
    async with sessionmaker() as session, session.begin():
        owner = await create_account(session, email="bench@example.com", tier=Tier.PRO)

    receiver = Receiver()
    await receiver.start()
    print(f"database: {'PostgreSQL' if database else 'SQLite'}, {count} deliveries per run")
    try:
        await queue_deliveries(  # bodies for the reference, shaped like every other delivery
            sessionmaker,
            project_id=owner.project.id,
            account_id=owner.account.id,
            url=receiver.url,
            count=count,
        )
        bodies = await queued_bodies(sessionmaker, count)
        async with sessionmaker() as session, session.begin():
            await session.execute(WebhookAttempt.__table__.delete())
            await session.execute(WebhookDelivery.__table__.delete())
        for concurrency in concurrencies:
            for n in range(1, rounds + 1):
                floor = await reference_aiohttp(receiver, bodies, concurrency=concurrency)
                old_client = await reference(receiver, bodies, concurrency=concurrency)
                rate = await throughput(
                    settings, sessionmaker, owner, receiver, count=count, concurrency=concurrency
                )
                print(
                    f"concurrency {concurrency:>3}, round {n}: plain aiohttp {floor:5.0f}/s, "
                    f"plain httpx {old_client:5.0f}/s, dispatcher {rate:5.0f} deliveries/s, "
                    f"ratio to plain aiohttp {rate / floor:.2f}"
                )

        dispatcher = WebhookDispatcher(settings=settings, sessionmaker=sessionmaker, wakeup=wakeup)
        dispatcher.start()
        delays = await latency_samples(sessionmaker, owner, receiver.url, samples=samples)
        await dispatcher.stop()
        print(describe("commit → first attempt, same process (wake-up)", delays))

        worker = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "uploadkit_server",
            "worker",
            env={
                **os.environ,
                "UPLOADKIT_DATABASE_URL": url,
                "UPLOADKIT_DATA_DIR": str(workdir),
                "UPLOADKIT_SECRET_KEY": "bench",
                "UPLOADKIT_WEBHOOK_ALLOW_PRIVATE": "true",
            },
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            await latency_samples(sessionmaker, owner, receiver.url, samples=1)  # worker is up
            delays = await latency_samples(sessionmaker, owner, receiver.url, samples=samples)
        finally:
            worker.send_signal(signal.SIGTERM)
            await worker.wait()
        print(
            describe(
                f"commit → first attempt, worker (poll {settings.webhook_poll_interval} s)",
                delays,
            )
        )
    finally:
        receiver.process.terminate()
        await engine.dispose()
        if scratch and database:
            admin = await asyncpg.connect(database)
            await admin.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
            await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", help="PostgreSQL admin URL (default: a SQLite file)")
    parser.add_argument("--count", type=int, default=2000, help="deliveries per throughput run")
    parser.add_argument(
        "--concurrency", default="1,16,64", help="dispatcher concurrencies, comma-separated"
    )
    parser.add_argument("--rounds", type=int, default=2, help="reference/dispatcher pairs each")
    parser.add_argument("--samples", type=int, default=100, help="latency samples per case")
    args = parser.parse_args()
    concurrencies = [int(value) for value in args.concurrency.split(",")]
    asyncio.run(run(args.database, args.count, concurrencies, args.rounds, args.samples))


if __name__ == "__main__":
    main()
