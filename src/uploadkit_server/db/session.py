"""Engine and session factory.

SQLite (the embedded default) runs in WAL mode and opens every transaction with
``BEGIN IMMEDIATE``: writers queue for the database lock instead of failing half-way with
"database is locked", which makes read-check-write sequences (quotas, limits) race-free. A file
database is reached through ``db/sqlite_loop.py``: statements run on the event loop, writers of
one process queue on an asyncio lock, and another process holding the lock is waited for with
``asyncio.sleep`` rather than SQLite's busy handler. PostgreSQL gets row locks and conditional
updates from the repositories instead.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event, make_url, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, CursorResult, Result
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.util import await_only

from uploadkit_server.db import sqlite_loop
from uploadkit_server.db.driver_transaction import RequestSession, allow_driver_transactions
from uploadkit_server.errors import UploadKitError

SQLITE_BUSY_TIMEOUT_MS = 30_000


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    if url.startswith("sqlite"):
        database = make_url(url).database
        if database and database != ":memory:" and not database.startswith("file:"):
            path = os.path.abspath(database)
            engine = create_async_engine(
                url,
                echo=echo,
                async_creator=lambda: sqlite_loop.connect(path),
                # Connections wait in the writer queue, not in the pool: one per waiting request.
                pool_size=10,
                max_overflow=54,
            )
            _configure_sqlite(engine, busy_timeout_ms=0)
            allow_driver_transactions(engine.sync_engine)
        else:
            engine = create_async_engine(
                url, echo=echo, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
            )
            _configure_sqlite(engine, busy_timeout_ms=SQLITE_BUSY_TIMEOUT_MS)
        return engine
    engine = create_async_engine(url, echo=echo, pool_size=10, max_overflow=20)
    _discard_closed_connections(engine)
    if engine.dialect.driver == "asyncpg":
        allow_driver_transactions(engine.sync_engine)
    return engine


def _discard_closed_connections(engine: AsyncEngine) -> None:
    """A pooled PostgreSQL connection the server has closed (a restart, a terminated backend)
    is replaced at checkout instead of failing the request. asyncpg notices the close on its
    own (the socket's end is read on the loop), so a flag is enough: SQLAlchemy's
    ``pool_pre_ping`` cost three round trips on every checkout (its asyncpg adapter pings inside
    a transaction it rolls back)."""

    @event.listens_for(engine.sync_engine, "checkout")
    def _on_checkout(_dbapi_connection: Any, _record: Any, proxy: Any) -> None:
        driver = proxy.driver_connection
        if getattr(driver, "is_closed", None) is not None and driver.is_closed():
            raise DisconnectionError("the database server closed this connection")


def _configure_sqlite(engine: AsyncEngine, *, busy_timeout_ms: int) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the driver so that "begin" below decides.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # 0 on the event loop: sqlite_loop waits for other processes without blocking it.
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        driver = connection.connection.driver_connection
        if isinstance(driver, sqlite_loop.Connection):
            if driver.raw().in_transaction:
                return  # the ORM joining a driver transaction (``db/driver_transaction.py``)
            # Straight to the driver: through ``exec_driver_sql`` the BEGIN cost a quarter of
            # a request transaction's CPU (an execution context for a statement with no result).
            await_only(driver.begin_immediate())
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions whose driver statements begin their transaction without the ORM
    (``RequestSession``)."""
    return async_sessionmaker(
        engine, class_=RequestSession, expire_on_commit=False, autoflush=False
    )


def dialect_name(session: AsyncSession) -> str:
    """``"sqlite"`` or ``"postgresql"``: for the few statements whose SQL differs."""
    return session.get_bind().dialect.name


def dialect_insert(dialect: str) -> Any:
    """The ``insert`` construct of ``dialect``, which has ``on_conflict_do_nothing/_update``: for
    statements built once per dialect and cached."""
    return pg_insert if dialect == "postgresql" else sqlite_insert


def upsert_insert(session: AsyncSession) -> Any:
    """The ``insert`` construct of the session's dialect (see ``dialect_insert``)."""
    return dialect_insert(dialect_name(session))


def affected_rows(result: Result[Any]) -> int:
    """How many rows an ``UPDATE`` or ``DELETE`` matched. ``AsyncSession.execute`` is typed as
    returning ``Result``; DML always gives a ``CursorResult``, which has the count."""
    assert isinstance(result, CursorResult), type(result)
    return result.rowcount


async def ping(engine: AsyncEngine) -> None:
    """One round trip to the database (``SELECT 1``): what the health checks ask of it."""
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


async def _end(session: AsyncSession, error: BaseException | None) -> None:
    """Commit, or roll back on error, unless the error is itself a state change to keep
    (``UploadKitError.keeps_changes``, e.g. a file marked ``FAILED``)."""
    if error is None or (isinstance(error, UploadKitError) and error.keeps_changes):
        await session.commit()
    else:
        await session.rollback()


@asynccontextmanager
async def unit_of_work(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """One transaction: committed when the block ends, rolled back on error, unless the error
    is itself a state change to keep (``UploadKitError.keeps_changes``, e.g. a file marked
    ``FAILED``)."""
    async with sessionmaker() as session:
        try:
            yield session
        except BaseException as error:
            await _end(session, error)
            raise
        else:
            await _end(session, None)


class OnDemandUnitOfWork:
    """A ``unit_of_work`` whose session is made the first time ``session()`` is called: a
    request that never touches the database costs nothing here. Used as
    ``async with OnDemandUnitOfWork(sessionmaker) as work: ... work.session() ...``."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker
        self._session: AsyncSession | None = None
        self._ended = False

    def session(self) -> AsyncSession:
        if self._ended:
            # Nothing would commit or close it: a session asked for after the response.
            raise RuntimeError("this unit of work has ended")
        if self._session is None:
            self._session = self._sessionmaker()
        return self._session

    async def __aenter__(self) -> OnDemandUnitOfWork:
        return self

    async def __aexit__(self, _type: object, error: BaseException | None, _tb: object) -> None:
        self._ended = True
        session, self._session = self._session, None
        if session is None:
            return
        try:
            await _end(session, error)
        finally:
            await session.close()


@asynccontextmanager
async def statement_session(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """A session for work each of whose statements is complete and safe on its own (the webhook
    dispatcher's claims and result writes): on PostgreSQL every statement commits by itself, so
    a one-statement unit costs one round trip instead of three (``BEGIN``, the statement,
    ``COMMIT``); on SQLite, where a round trip costs nothing but each transaction takes the
    writer's turn, it is one transaction, committed when the block ends."""
    async with sessionmaker() as session:
        if dialect_name(session) == "postgresql":
            await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
            yield session
        else:
            async with session.begin():
                yield session
