"""Driver transactions (``db/driver_transaction.py``), on SQLite and PostgreSQL: a session that
runs only driver statements commits, rolls back and closes without the ORM beginning at all;
ORM work after them joins the same transaction; the connection always goes back to the pool;
``after_commit`` listeners hear a driver-only commit."""

from __future__ import annotations

import os
from typing import Any

import pytest
from sqlalchemy import event, select, text, update
from sqlalchemy.exc import DBAPIError, PendingRollbackError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from tests.db.test_driver import FILE_BY_ID, INSERT_FILE, _file_values
from uploadkit_server.core.accounts.service import NewAccount
from uploadkit_server.db import sqlite_loop
from uploadkit_server.db.driver_transaction import RequestSession
from uploadkit_server.db.models import File
from uploadkit_server.db.session import create_sessionmaker, unit_of_work


def _checked_out(engine: AsyncEngine) -> int:
    """Connections out of the pool; on SQLite 1 more while this process's writer lock is held."""
    held = 0
    if engine.dialect.name == "sqlite":
        assert engine.url.database is not None
        held = int(sqlite_loop.writer_lock(os.path.abspath(engine.url.database)).locked())
    return int(engine.sync_engine.pool.checkedout()) + held  # type: ignore[attr-defined]


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
        assert _checked_out(engine) == (2 if engine.dialect.name == "sqlite" else 1)
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


async def test_a_block_of_driver_statements_only_commits_or_rolls_back_with_the_block(
    engine: AsyncEngine, owner: NewAccount
) -> None:
    sessionmaker = create_sessionmaker(engine)
    before, inside, refused = _file_values(owner), _file_values(owner), _file_values(owner)

    class Refused(Exception):
        pass

    async with sessionmaker() as session:
        await INSERT_FILE.rows(session, before)
        async with session.begin():
            await INSERT_FILE.rows(session, inside)
    assert _checked_out(engine) == 0
    assert await _exists(engine, before["id"])
    assert await _exists(engine, inside["id"])
    async with sessionmaker() as session:
        with pytest.raises(Refused):
            async with session.begin():
                await INSERT_FILE.rows(session, refused)
                raise Refused
        await session.commit()
    assert not await _exists(engine, refused["id"])


async def test_a_lost_connection_is_reported_as_itself_and_given_back(
    engine: AsyncEngine, owner: NewAccount
) -> None:
    sessionmaker = create_sessionmaker(engine)
    values = _file_values(owner)
    with pytest.raises(PendingRollbackError):
        async with unit_of_work(sessionmaker) as session:
            await INSERT_FILE.rows(session, values)
            connection = await session.connection()  # the ORM joins
            await connection.invalidate()  # what SQLAlchemy does when the connection drops
            await session.commit()
    assert _checked_out(engine) == 0
    assert not await _exists(engine, values["id"])


async def test_after_a_lost_connection_the_orm_does_not_carry_on_on_another(
    engine: AsyncEngine, owner: NewAccount
) -> None:
    async with create_sessionmaker(engine)() as session:
        await INSERT_FILE.rows(session, _file_values(owner))
        with pytest.raises(PendingRollbackError):
            async with session.begin():  # its rollback is not the session's
                await (await session.connection()).invalidate()
                await session.execute(text("SELECT 1"))
        # Not silently on a fresh pooled connection that nobody would give back.
        with pytest.raises(PendingRollbackError, match="lost"):
            await session.execute(text("SELECT 1"))
    assert _checked_out(engine) == 0


@pytest.mark.parametrize("db_kind", ["postgres"])
async def test_a_terminated_postgresql_backend_fails_the_request_with_the_database_error(
    engine: AsyncEngine, owner: NewAccount
) -> None:
    sessionmaker = create_sessionmaker(engine)
    values = _file_values(owner)
    with pytest.raises(DBAPIError):
        async with unit_of_work(sessionmaker) as session:
            await INSERT_FILE.rows(session, values)
            pid = await session.scalar(text("SELECT pg_backend_pid()"))
            async with engine.connect() as other:
                await other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            await session.execute(text("SELECT 1"))
    assert _checked_out(engine) == 0
    assert not await _exists(engine, values["id"])
