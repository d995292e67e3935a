"""Driver transactions (``db/driver_transaction.py``), on SQLite and PostgreSQL: a session that
runs only driver statements commits, rolls back and closes without the ORM beginning at all;
ORM work after them joins the same transaction; the connection always goes back to the pool;
``after_commit`` listeners hear a driver-only commit."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from tests.db.test_driver import FILE_BY_ID, INSERT_FILE, _file_values
from uploadkit_server.core.accounts.service import NewAccount
from uploadkit_server.db.driver_transaction import RequestSession
from uploadkit_server.db.models import File
from uploadkit_server.db.session import create_sessionmaker, unit_of_work


def _checked_out(engine: AsyncEngine) -> int:
    return int(engine.sync_engine.pool.checkedout())  # type: ignore[attr-defined]


async def _exists(engine: AsyncEngine, file_id: object) -> bool:
    async with create_sessionmaker(engine)() as session:
        return await session.scalar(select(File.id).where(File.id == file_id)) is not None


async def test_driver_statements_alone_commit_without_the_orm_beginning(
    engine: AsyncEngine, owner: NewAccount
) -> None:
    values = _file_values(owner)
    async with unit_of_work(create_sessionmaker(engine)) as session:
        assert isinstance(session, RequestSession)
        await INSERT_FILE.rows(session, values)
        assert await FILE_BY_ID.first(session, {"id": values["id"]}) is not None
        assert session.driver_transaction() is not None
        assert not session.sync_session.in_transaction()
        assert _checked_out(engine) == 1
    assert session.driver_transaction() is None
    assert _checked_out(engine) == 0
    assert await _exists(engine, values["id"])


async def test_closing_or_rolling_back_discards_driver_writes(
    engine: AsyncEngine, owner: NewAccount
) -> None:
    sessionmaker = create_sessionmaker(engine)
    closed, rolled_back, kept = _file_values(owner), _file_values(owner), _file_values(owner)
    async with sessionmaker() as session:
        await INSERT_FILE.rows(session, closed)
    assert _checked_out(engine) == 0
    async with sessionmaker() as session:
        await INSERT_FILE.rows(session, rolled_back)
        await session.rollback()
        assert _checked_out(engine) == 0
        # The session goes on in a new transaction.
        await INSERT_FILE.rows(session, kept)
        await session.commit()
    assert _checked_out(engine) == 0
    assert not await _exists(engine, closed["id"])
    assert not await _exists(engine, rolled_back["id"])
    assert await _exists(engine, kept["id"])


async def test_orm_work_after_driver_statements_is_the_same_transaction(
    engine: AsyncEngine, owner: NewAccount
) -> None:
    sessionmaker = create_sessionmaker(engine)
    first, second = _file_values(owner), _file_values(owner)
    async with sessionmaker() as session:
        await INSERT_FILE.rows(session, first)
        # A block the ORM begins joins the driver transaction and commits it.
        async with session.begin():
            await session.execute(
                update(File).where(File.id == first["id"]).values(file_name="renamed")
            )
        # Later driver statements begin again; this one is never committed.
        await INSERT_FILE.rows(session, second)
    assert _checked_out(engine) == 0
    async with sessionmaker() as session:
        assert await session.scalar(select(File.file_name).where(File.id == first["id"])) == (
            "renamed"
        )
    assert not await _exists(engine, second["id"])


async def test_after_commit_listeners_hear_a_commit_of_driver_statements_only(
    engine: AsyncEngine, owner: NewAccount
) -> None:
    heard: list[Any] = []

    def listen(session: AsyncSession) -> None:
        event.listen(session.sync_session, "after_commit", heard.append)

    sessionmaker = create_sessionmaker(engine)
    async with sessionmaker() as session:
        listen(session)
        await INSERT_FILE.rows(session, _file_values(owner))
        await session.rollback()
    assert heard == []
    async with sessionmaker() as session:
        listen(session)
        await INSERT_FILE.rows(session, _file_values(owner))
        await session.commit()
    assert heard == [session.sync_session]


async def test_a_failed_statement_leaves_a_usable_pool(
    engine: AsyncEngine, owner: NewAccount
) -> None:
    sessionmaker = create_sessionmaker(engine)
    values = _file_values(owner)
    async with unit_of_work(sessionmaker) as session:
        await INSERT_FILE.rows(session, values)
    with pytest.raises(Exception, match=r"(?i)unique"):
        async with unit_of_work(sessionmaker) as session:
            await INSERT_FILE.rows(session, values)  # the same id again
    assert _checked_out(engine) == 0
    other = _file_values(owner)
    async with unit_of_work(sessionmaker) as session:
        await INSERT_FILE.rows(session, other)
    assert await _exists(engine, other["id"])
