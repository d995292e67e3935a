"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from uploadkit_server.db.base import Base
from uploadkit_server.db.migrate import migrate
from uploadkit_server.db.session import create_engine
from uploadkit_server.settings import to_async_database_url


def _table_names(connection: Connection) -> list[str]:
    return list(inspect(connection).get_table_names())


def _differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": False})
    return list(compare_metadata(context, Base.metadata))


async def test_migrated_schema_matches_the_models(empty_database_url: str) -> None:
    engine = create_engine(to_async_database_url(empty_database_url))
    try:
        async with engine.connect() as connection:
            assert await connection.run_sync(_table_names) == []  # from scratch, every time
        await migrate(engine)
        await migrate(engine)  # a second run finds nothing to do
        async with engine.connect() as connection:
            differences = await connection.run_sync(_differences)
    finally:
        await engine.dispose()
    assert differences == []
