"""Where a ``DriverStatement`` runs: one runner per kind of driver connection (``db/driver.py``).

Each runs a compiled statement (its SQL text, positional parameters and result processors) on
a connection whose transaction is already the caller's: ``sqlite3`` through
``db/sqlite_loop.py``, asyncpg under SQLAlchemy's adapter, or, for any other driver, SQLAlchemy
itself on the session's connection.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Executable

from uploadkit_server.db import sqlite_loop


class Compiled(Protocol):
    """A statement compiled for one dialect (``db/driver.py``)."""

    @property
    def statement(self) -> Executable: ...

    @property
    def sql(self) -> str: ...

    def parameters(self, values: Mapping[str, Any]) -> list[Any]: ...

    def row(self, raw: Sequence[Any]) -> tuple[Any, ...]: ...


class Runner(Protocol):
    #: The dialect of the transaction's connection, which the statements are compiled for.
    dialect: Dialect

    async def rows(
        self, compiled: Compiled, values: Mapping[str, Any]
    ) -> list[tuple[Any, ...]]: ...


class SqliteRunner:
    def __init__(self, dialect: Dialect, connection: sqlite_loop.Connection) -> None:
        self.dialect = dialect
        self._raw = connection.raw()

    async def rows(self, compiled: Compiled, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        cursor = await sqlite_loop.run_statement(
            self._raw, compiled.sql, compiled.parameters(values)
        )
        try:
            return [compiled.row(raw) for raw in cursor.fetchall()]
        finally:
            cursor.close()


class AsyncpgRunner:
    """On SQLAlchemy's asyncpg adapter, which starts its transaction at the first statement:
    started here the same way (under its mutex) if nothing has run yet."""

    def __init__(self, dialect: Dialect, adapter: Any) -> None:
        self.dialect = dialect
        self._adapter = adapter

    async def rows(self, compiled: Compiled, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        adapter = self._adapter
        async with adapter._execute_mutex:
            if adapter._transaction is None:
                await adapter._start_transaction()
            try:
                records = await adapter._connection.fetch(
                    compiled.sql, *compiled.parameters(values)
                )
            except Exception as error:
                adapter._handle_exception(error)  # raises it as the DBAPI error it is
                raise
        return [compiled.row(record) for record in records]


class SessionRunner:
    """Any other driver: through SQLAlchemy, on the session's connection."""

    def __init__(self, dialect: Dialect, session: AsyncSession) -> None:
        self.dialect = dialect
        self._session = session

    async def rows(self, compiled: Compiled, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        connection = await self._session.connection()
        result = await connection.execute(compiled.statement, dict(values))
        return [tuple(row) for row in result.fetchall()] if result.returns_rows else []


def is_asyncpg(driver: Any) -> bool:
    return type(driver).__module__.startswith("asyncpg")


def driver_runner(dialect: Dialect, fairy: Any) -> Runner | None:
    """The runner for a pooled connection (``fairy``) of a driver this module knows, else None."""
    driver = fairy.driver_connection
    if isinstance(driver, sqlite_loop.Connection):
        return SqliteRunner(dialect, driver)
    if is_asyncpg(driver):
        return AsyncpgRunner(dialect, fairy.dbapi_connection)
    return None
