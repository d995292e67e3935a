"""Statements on the driver connection (``db/driver.py``), on SQLite and PostgreSQL: what they
write reads back through the ORM exactly as written, they belong to the session's transaction,
Python column defaults apply, and a driver the module does not know runs them through
SQLAlchemy with the same results."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from uploadkit_server.core.accounts.service import NewAccount, create_account
from uploadkit_server.db.base import Base
from uploadkit_server.db.driver import DriverStatement
from uploadkit_server.db.driver_transaction import RequestSession
from uploadkit_server.db.models import File, FileStatus
from uploadkit_server.db.session import create_engine, create_sessionmaker, unit_of_work
from uploadkit_server.security import new_id

#: Every attribute a presign writes but the timestamps, which are left to the column defaults.
NAMES = (
    "id",
    "project_id",
    "account_id",
    "route_slug",
    "is_test",
    "key",
    "file_name",
    "file_size",
    "content_type",
    "metadata_",
    "reserved_bytes",
    "expires_at",
)

INSERT_FILE = DriverStatement(
    lambda _dialect: insert(File).values(
        {File.__table__.c[_column(name)]: bindparam(name) for name in NAMES}
    )
)
FILE_BY_ID = DriverStatement(
    lambda _dialect: select(
        File.id, File.is_test, File.metadata_, File.expires_at, File.status, File.created_at
    ).where(File.id == bindparam("id"))
)
RENAME_IF_SMALL = DriverStatement(
    lambda _dialect: (
        update(File)
        .where(File.id == bindparam("id"), File.file_size <= bindparam("at_most"))
        .values(file_name=bindparam("new_name"))
        .returning(File.id)
    )
)


def _column(name: str) -> str:
    return "metadata" if name == "metadata_" else name


def _file_values(owner: NewAccount, **changes: object) -> dict[str, object]:
    file_id = new_id("file")
    values: dict[str, object] = {
        "id": file_id,
        "project_id": owner.project.id,
        "account_id": owner.account.id,
        "route_slug": "files",
        "is_test": True,
        "key": f"{owner.project.id}/files/{file_id}/naïve name.txt",
        "file_name": "naïve name.txt",
        "file_size": 12,
        "content_type": "text/plain",
        "metadata_": {"album": "été", "n": 3, "nested": {"ok": True}},
        "reserved_bytes": 12,
        # Not UTC on purpose: stored as UTC, read back as the same instant.
        "expires_at": datetime(
            2026, 12, 4, 12, 30, 15, 250000, tzinfo=timezone(timedelta(hours=2))
        ),
    }
    values.update(changes)
    return values


async def test_a_row_written_on_the_driver_reads_back_through_the_orm_as_written(
    engine: AsyncEngine, owner: NewAccount
) -> None:
    sessionmaker = create_sessionmaker(engine)
    values = _file_values(owner)
    before = datetime.now(UTC)
    async with unit_of_work(sessionmaker) as session:
        await INSERT_FILE.rows(session, values)
    async with sessionmaker() as session:
        file = await session.scalar(select(File).where(File.id == values["id"]))
        assert file is not None
        assert file.is_test is True
        assert file.metadata_ == values["metadata_"]
        assert file.file_name == "naïve name.txt"
        assert file.expires_at == values["expires_at"]
        assert file.expires_at.tzinfo is not None
        # Python-side column defaults applied as through the ORM.
        assert file.status == FileStatus.UPLOADING
        assert before - timedelta(seconds=1) <= file.created_at <= datetime.now(UTC)
        assert file.updated_at is not None
        # And read on the driver, the values come back processed the same way.
        row = await FILE_BY_ID.first(session, {"id": values["id"]})
    assert row == (
        values["id"],
        True,
        values["metadata_"],
        values["expires_at"],
        FileStatus.UPLOADING,
        file.created_at,
    )


async def test_driver_statements_belong_to_the_sessions_transaction(
    engine: AsyncEngine, owner: NewAccount
) -> None:
    sessionmaker = create_sessionmaker(engine)
    first, second = _file_values(owner), _file_values(owner)

    class Refused(Exception):
        pass

    # The driver statement is the transaction's first statement (on PostgreSQL the adapter
    # starts its transaction lazily), then the unit of work fails: nothing stays.
    with pytest.raises(Refused):
        async with unit_of_work(sessionmaker) as session:
            await INSERT_FILE.rows(session, first)
            await session.execute(
                update(File).where(File.id == first["id"]).values(file_name="changed by the ORM")
            )
            raise Refused
    async with unit_of_work(sessionmaker) as session:
        assert await FILE_BY_ID.first(session, {"id": first["id"]}) is None
        # Seen by the ORM in the same transaction, and the other way round.
        await INSERT_FILE.rows(session, second)
        assert await session.scalar(select(File.file_name).where(File.id == second["id"])) == (
            "naïve name.txt"
        )
        await session.execute(
            update(File).where(File.id == second["id"]).values(file_name="by the ORM")
        )
        assert await RENAME_IF_SMALL.first(
            session, {"id": second["id"], "at_most": 100, "new_name": "by the driver"}
        ) == (second["id"],)
        # A conditional write that matches nothing returns nothing.
        assert (
            await RENAME_IF_SMALL.first(
                session, {"id": second["id"], "at_most": 1, "new_name": "refused"}
            )
            is None
        )
    async with sessionmaker() as session:
        assert await session.scalar(select(File.file_name).where(File.id == second["id"])) == (
            "by the driver"
        )


async def test_a_missing_parameter_is_refused_before_anything_runs(
    engine: AsyncEngine, owner: NewAccount
) -> None:
    values = _file_values(owner)
    del values["file_name"]
    async with create_sessionmaker(engine)() as session:
        with pytest.raises(KeyError, match="file_name"):
            await INSERT_FILE.rows(session, values)


async def test_an_unknown_driver_runs_the_statements_through_sqlalchemy() -> None:
    # In-memory SQLite is reached through aiosqlite itself, not ``db/sqlite_loop.py``.
    engine = create_engine("sqlite+aiosqlite://")
    try:
        async with engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        sessionmaker: async_sessionmaker[AsyncSession] = create_sessionmaker(engine)
        async with unit_of_work(sessionmaker) as session:
            owner = await create_account(session, email="memory@example.com")
        values = _file_values(owner)
        async with unit_of_work(sessionmaker) as session:
            await INSERT_FILE.rows(session, values)
            row = await FILE_BY_ID.first(session, {"id": values["id"]})
            # Its one shared connection is never lent to a driver transaction: a check-in
            # would reset it under any other session's open transaction.
            assert isinstance(session, RequestSession)
            assert session.driver_transaction() is None
        assert row is not None
        assert row[:4] == (values["id"], True, values["metadata_"], values["expires_at"])
    finally:
        await engine.dispose()
