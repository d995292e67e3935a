"""``OnDemandUnitOfWork``, the transaction of every API request (``api/deps.RequestRoute``), on
SQLite and PostgreSQL: no session and no connection until one is asked for; committed when the
block ends; rolled back on error, unless the error is a state change to keep."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from tests.db.test_driver import INSERT_FILE, _file_values
from tests.db.test_driver_transaction import _checked_out
from uploadkit_server.core.accounts.service import NewAccount
from uploadkit_server.db.models import File
from uploadkit_server.db.session import OnDemandUnitOfWork, create_sessionmaker
from uploadkit_server.errors import UploadKitError, UploadNotVerified


async def _file_name(engine: AsyncEngine, file_id: object) -> str | None:
    async with create_sessionmaker(engine)() as session:
        return await session.scalar(select(File.file_name).where(File.id == file_id))


async def test_nothing_is_opened_until_a_session_is_asked_for(engine: AsyncEngine) -> None:
    sessionmaker = create_sessionmaker(engine)
    made: list[AsyncSession] = []

    def counting() -> AsyncSession:
        made.append(sessionmaker())
        return made[-1]

    async with OnDemandUnitOfWork(counting) as work:  # type: ignore[arg-type]
        pass
    assert made == []
    async with OnDemandUnitOfWork(counting) as work:  # type: ignore[arg-type]
        assert work.session() is work.session()
    assert len(made) == 1
    assert _checked_out(engine) == 0


async def test_no_session_once_it_has_ended(engine: AsyncEngine) -> None:
    async with OnDemandUnitOfWork(create_sessionmaker(engine)) as work:
        work.session()
    # Nothing would commit or close a session made now (asked for after the response).
    with pytest.raises(RuntimeError, match="ended"):
        work.session()


async def test_committed_when_the_block_ends(engine: AsyncEngine, owner: NewAccount) -> None:
    values = _file_values(owner)
    async with OnDemandUnitOfWork(create_sessionmaker(engine)) as work:
        await INSERT_FILE.rows(work.session(), values)
        await work.session().execute(
            update(File).where(File.id == values["id"]).values(file_name="through the ORM")
        )
    assert _checked_out(engine) == 0
    assert await _file_name(engine, values["id"]) == "through the ORM"


async def test_rolled_back_on_error_unless_the_error_keeps_its_changes(
    engine: AsyncEngine, owner: NewAccount
) -> None:
    refused, kept = _file_values(owner), _file_values(owner)
    with pytest.raises(UploadKitError):
        async with OnDemandUnitOfWork(create_sessionmaker(engine)) as work:
            await INSERT_FILE.rows(work.session(), refused)
            raise UploadKitError("refused")
    failure = UploadNotVerified("marked as failed, and that is kept")
    assert failure.keeps_changes
    with pytest.raises(UploadNotVerified):
        async with OnDemandUnitOfWork(create_sessionmaker(engine)) as work:
            await INSERT_FILE.rows(work.session(), kept)
            raise failure
    assert _checked_out(engine) == 0
    assert await _file_name(engine, refused["id"]) is None
    assert await _file_name(engine, kept["id"]) == kept["file_name"]
