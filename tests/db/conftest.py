"""Fixtures of the database tests: an engine on the test's database (SQLite file or a scratch
PostgreSQL database, ``database_url``) and an account on it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from uploadkit_server.core.accounts.service import NewAccount, create_account
from uploadkit_server.db.session import create_engine, create_sessionmaker, unit_of_work
from uploadkit_server.security import new_id
from uploadkit_server.settings import to_async_database_url


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(to_async_database_url(database_url))
    yield engine
    await engine.dispose()


@pytest.fixture
async def owner(engine: AsyncEngine) -> NewAccount:
    async with unit_of_work(create_sessionmaker(engine)) as session:
        return await create_account(session, email=f"{new_id('x')}@example.com")
