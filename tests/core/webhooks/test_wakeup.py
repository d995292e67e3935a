"""A commit wakes the dispatchers of its own runtime only: each runtime has its own
``DeliveryWakeup``, carried by the sessions of its sessionmaker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from uploadkit_server.core.webhooks.wakeup import DeliveryWakeup, notify_after_commit
from uploadkit_server.db.session import create_engine, create_sessionmaker


@pytest.fixture
async def engine() -> AsyncIterator[AsyncEngine]:
    engine = create_engine("sqlite+aiosqlite://")
    yield engine
    await engine.dispose()


async def test_a_commit_wakes_only_its_own_runtimes_dispatchers(engine: AsyncEngine) -> None:
    mine, other = DeliveryWakeup(), DeliveryWakeup()
    sessionmaker = mine.wake_on_commit(create_sessionmaker(engine))
    other.wake_on_commit(create_sessionmaker(engine))
    mine_woken, other_woken = asyncio.Event(), asyncio.Event()
    mine.subscribe(mine_woken)
    other.subscribe(other_woken)

    async with sessionmaker() as session, session.begin():
        await session.execute(text("SELECT 1"))
        notify_after_commit(session)
        notify_after_commit(session)  # once per session, however often it is asked
        assert not mine_woken.is_set()  # not before the commit
    assert mine_woken.is_set()
    assert not other_woken.is_set()


async def test_a_rollback_wakes_nobody(engine: AsyncEngine) -> None:
    wakeup = DeliveryWakeup()
    sessionmaker = wakeup.wake_on_commit(create_sessionmaker(engine))
    woken = asyncio.Event()
    wakeup.subscribe(woken)
    with pytest.raises(RuntimeError):
        async with sessionmaker() as session, session.begin():
            await session.execute(text("SELECT 1"))
            notify_after_commit(session)
            raise RuntimeError("rolled back")
    assert not woken.is_set()


async def test_an_unsubscribed_dispatcher_is_not_woken(engine: AsyncEngine) -> None:
    wakeup = DeliveryWakeup()
    sessionmaker = wakeup.wake_on_commit(create_sessionmaker(engine))
    woken = asyncio.Event()
    wakeup.unsubscribe(wakeup.subscribe(woken))
    async with sessionmaker() as session, session.begin():
        await session.execute(text("SELECT 1"))
        notify_after_commit(session)
    assert not woken.is_set()


async def test_a_session_without_a_wakeup_is_left_to_polling(engine: AsyncEngine) -> None:
    async with create_sessionmaker(engine)() as session, session.begin():
        await session.execute(text("SELECT 1"))
        notify_after_commit(session)  # nothing to wake: the commit goes through unhindered
