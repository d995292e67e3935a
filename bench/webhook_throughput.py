"""Webhook dispatch benchmark: deliveries per second to a local receiver, and the delay from the
commit that queued a delivery to its first attempt.

Run by hand (results go into docs/webhooks.md)::

    .venv/bin/python bench/webhook_throughput.py                      # SQLite
    .venv/bin/python bench/webhook_throughput.py --database postgresql://postgres@127.0.0.1/postgres

For PostgreSQL a scratch database is created next to the one named, and dropped afterwards.
The receiver is a minimal keep-alive HTTP/1.1 server in its own process answering 204, so the
figures are the dispatcher's (signing, HTTP, recording each attempt), not the receiver's.
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

import asyncpg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the benchmark shares the test suite's helpers

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from tests.support.live_server import free_port
from tests.webhooks.queueing import queue_deliveries

from uploadkit_server.clock import utcnow
from uploadkit_server.core.accounts.service import NewAccount, create_account
from uploadkit_server.core.webhooks.dispatcher import WebhookDispatcher
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


async def _serve(port: int) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                await reader.readexactly(length)
                writer.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=512)
    async with server:
        await server.serve_forever()


def _receiver_main(port: int) -> None:
    asyncio.run(_serve(port))


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


async def throughput(
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    owner: NewAccount,
    url: str,
    *,
    count: int,
    concurrency: int,
) -> float:
    await queue_deliveries(
        sessionmaker,
        project_id=owner.project.id,
        account_id=owner.account.id,
        url=url,
        count=count,
    )
    before = await delivered_count(sessionmaker)
    dispatcher = WebhookDispatcher(
        settings=settings.model_copy(update={"webhook_concurrency": concurrency}),
        sessionmaker=sessionmaker,
    )
    started = time.perf_counter()
    dispatcher.start()
    while True:
        if await delivered_count(sessionmaker) >= before + count:
            break
        await asyncio.sleep(0.05)
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
        f"max {max(delays):.1f} ms (n={len(delays)})"
    )


async def run(database: str | None, count: int) -> None:
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
    sessionmaker = create_sessionmaker(engine)
    async with sessionmaker() as session, session.begin():
        owner = await create_account(session, email="bench@example.com", tier=Tier.PRO)

    port = free_port()
    receiver = multiprocessing.get_context("spawn").Process(
        target=_receiver_main, args=(port,), daemon=True
    )
    receiver.start()
    await asyncio.sleep(0.5)
    hook = f"http://127.0.0.1:{port}/hook"
    print(f"database: {'PostgreSQL' if database else 'SQLite'}, {count} deliveries per run")
    try:
        for concurrency in (1, 16, 64):
            rate = await throughput(
                settings, sessionmaker, owner, hook, count=count, concurrency=concurrency
            )
            print(f"throughput, concurrency {concurrency}: {rate:.0f} deliveries/s")

        dispatcher = WebhookDispatcher(settings=settings, sessionmaker=sessionmaker)
        dispatcher.start()
        delays = await latency_samples(sessionmaker, owner, hook, samples=50)
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
            await latency_samples(sessionmaker, owner, hook, samples=1)  # worker is up
            delays = await latency_samples(sessionmaker, owner, hook, samples=50)
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
        receiver.terminate()
        await engine.dispose()
        if scratch and database:
            admin = await asyncpg.connect(database)
            await admin.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
            await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", help="PostgreSQL admin URL (default: a SQLite file)")
    parser.add_argument("--count", type=int, default=2000, help="deliveries per throughput run")
    args = parser.parse_args()
    asyncio.run(run(args.database, args.count))


if __name__ == "__main__":
    main()
