"""A pooled PostgreSQL connection the server closed is replaced at checkout (``db/session.py``,
a flag asyncpg sets on its own instead of a ping per checkout): the units of work after a
server-side close succeed."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from uploadkit_server.db.session import create_sessionmaker, unit_of_work


@pytest.fixture
def db_kind() -> str:
    return "postgres"


async def _pooled_connections(engine: AsyncEngine) -> dict[int, Any]:
    """Three connections left in the pool: backend pid -> the asyncpg connection."""
    pooled: dict[int, Any] = {}
    sessionmaker = create_sessionmaker(engine)
    all_open = asyncio.Barrier(3)

    async def one() -> None:
        async with unit_of_work(sessionmaker) as session:
            pid = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            raw = await (await session.connection()).get_raw_connection()
            pooled[pid] = raw.driver_connection
            await all_open.wait()  # hold it until the others have opened their own

    await asyncio.gather(*(one() for _ in range(3)))
    return pooled


async def test_connections_the_server_closed_are_replaced_at_checkout(
    engine: AsyncEngine, database_url: str
) -> None:
    pooled = await _pooled_connections(engine)
    assert len(pooled) == 3
    admin = await asyncpg.connect(database_url)
    try:
        killed = await admin.fetchval(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE pid = ANY($1::int[])) AS t",
            list(pooled),
        )
    finally:
        await admin.close()
    assert killed == 3
    # Wait until the pool's connections have read the server's close (no request needed).
    deadline = time.monotonic() + 10
    while not all(connection.is_closed() for connection in pooled.values()):
        assert time.monotonic() < deadline, "asyncpg never noticed the terminated backends"
        await asyncio.sleep(0.01)
    for _ in range(5):  # more units of work than dead connections: each gets a live one
        async with unit_of_work(create_sessionmaker(engine)) as session:
            pid = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        assert pid not in pooled
