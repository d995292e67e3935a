"""SQLite on the event loop (``db/sqlite_loop.py``), through the engine the server builds: writers
of one process queue in order, and a write lock held elsewhere is waited for without blocking
the loop."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from uploadkit_server.db import sqlite_loop
from uploadkit_server.db.session import create_engine, create_sessionmaker, unit_of_work


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'loop.db'}")
    async with engine.begin() as connection:
        await connection.execute(text("CREATE TABLE counter (n INTEGER NOT NULL)"))
        await connection.execute(text("INSERT INTO counter VALUES (0)"))
    yield engine
    await engine.dispose()


async def test_concurrent_read_then_write_transactions_lose_no_update(engine: AsyncEngine) -> None:
    sessionmaker = create_sessionmaker(engine)

    async def increment() -> None:
        async with unit_of_work(sessionmaker) as session:
            n = (await session.execute(text("SELECT n FROM counter"))).scalar_one()
            await asyncio.sleep(0)  # let every other writer try to get in between
            await session.execute(text("UPDATE counter SET n = :n"), {"n": n + 1})

    await asyncio.gather(*(increment() for _ in range(100)))
    async with unit_of_work(sessionmaker) as session:
        assert (await session.execute(text("SELECT n FROM counter"))).scalar_one() == 100


async def test_a_lock_held_by_another_connection_is_awaited_without_blocking_the_loop(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    # A plain sqlite3 connection stands in for another process holding the write lock.
    other = sqlite3.connect(tmp_path / "loop.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    other.execute("UPDATE counter SET n = 41")
    sessionmaker = create_sessionmaker(engine)
    ticks = 0
    turned = asyncio.Event()

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1
            if ticks >= 10:
                turned.set()

    async def write() -> int:
        async with unit_of_work(sessionmaker) as session:
            await session.execute(text("UPDATE counter SET n = n + 1"))
            return int((await session.execute(text("SELECT n FROM counter"))).scalar_one())

    ticker = asyncio.create_task(tick())
    writer = asyncio.create_task(write())
    # Anchored on ten turns of the loop having happened (not on a sleep), by which time the
    # writer has long tried for the lock: the loop kept running while the writer waited.
    turned_ten_times = asyncio.ensure_future(turned.wait())
    await asyncio.wait({writer, turned_ten_times}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
    assert turned.is_set()
    assert not writer.done()  # still waiting for the other connection's lock
    other.execute("COMMIT")
    other.close()
    assert await asyncio.wait_for(writer, 10) == 42
    ticker.cancel()
    turned_ten_times.cancel()


async def test_engine_connections_have_no_busy_handler(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        assert (await connection.execute(text("PRAGMA busy_timeout"))).scalar_one() == 0
        assert (await connection.execute(text("PRAGMA journal_mode"))).scalar_one() == "wal"


async def test_commits_leave_checkpoints_to_a_worker_thread(
    engine: AsyncEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_loop, "CHECKPOINT_WAL_BYTES", 64 * 1024)
    checkpointed_on: list[str] = []
    real_checkpoint = sqlite_loop.checkpoint

    def recording_checkpoint(path: str) -> None:
        checkpointed_on.append(threading.current_thread().name)
        real_checkpoint(path)

    monkeypatch.setattr(sqlite_loop, "checkpoint", recording_checkpoint)
    async with engine.connect() as connection:
        assert (await connection.execute(text("PRAGMA wal_autocheckpoint"))).scalar_one() == 0
    sessionmaker = create_sessionmaker(engine)
    for n in range(sqlite_loop.CHECKPOINT_CHECK_EVERY * 4):
        async with unit_of_work(sessionmaker) as session:
            await session.execute(text("UPDATE counter SET n = :n"), {"n": n})
            # Pages enough to pass the threshold within a few checks.
            await session.execute(text("CREATE TABLE IF NOT EXISTS filler (b BLOB)"))
            await session.execute(text("INSERT INTO filler VALUES (randomblob(8192))"))
    while sqlite_loop._checkpoints:
        await asyncio.gather(*sqlite_loop._checkpoints.values())
    assert checkpointed_on, "no checkpoint started although the WAL passed the threshold"
    assert threading.main_thread().name not in checkpointed_on
    other = sqlite3.connect(tmp_path / "loop.db", isolation_level=None)
    try:
        assert other.execute("SELECT n FROM counter").fetchone() == (
            sqlite_loop.CHECKPOINT_CHECK_EVERY * 4 - 1,
        )
    finally:
        other.close()
