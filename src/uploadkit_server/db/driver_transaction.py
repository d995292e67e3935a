"""A session's transaction begun on the pooled driver connection, without the ORM.

The requests of the hot path (a presign, a listing, every key lookup) run only
``DriverStatement``s. Opening an ORM transaction for them (``Session._connection_for_bind``, a
Core ``Connection`` and its ``RootTransaction``, the commit's bookkeeping, a greenlet hop for
each step) cost about 250 µs of CPU per request on a small machine, against about 50 µs for
checking a connection out of the pool, ``BEGIN``, the statement and ``COMMIT`` on the driver.

So a ``RequestSession`` (every session of ``create_sessionmaker``) begins its transaction at
its first driver statement on a connection it checks out of the engine's pool itself. If ORM
work follows in the same session, the ORM is bound to that very connection and joins the
transaction already open on it: driver statements and ORM work still commit or roll back
together, as one transaction. The session's ``commit``, ``rollback`` and ``close`` end it and
give the connection back to the pool. (ORM work first, then driver statements: those run on
the ORM's connection, ``db/driver.py``.)
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import PendingRollbackError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlalchemy.util import greenlet_spawn

from uploadkit_server.db import sqlite_loop
from uploadkit_server.db.driver_runners import Runner, driver_runner

logger = logging.getLogger(__name__)

_DRIVER_TRANSACTION = "uploadkit.driver_transaction"
#: The ORM transaction (root, savepoint) last connected to the driver transaction.
_JOINED = "uploadkit.joined_orm_transaction"

#: Engines whose connections are ``sqlite_loop`` or asyncpg ones (``db/session.create_engine``
#: adds them). Others are never checked out to find out: a check-in resets the connection, and
#: on an in-memory database's single shared connection that would roll back another session.
_ENGINES_WITH_DRIVER_TRANSACTIONS: weakref.WeakSet[Engine] = weakref.WeakSet()


def allow_driver_transactions(engine: Engine) -> None:
    _ENGINES_WITH_DRIVER_TRANSACTIONS.add(engine)


class DriverTransaction:
    """One transaction on one pooled connection, begun on the driver."""

    def __init__(self, engine: Engine, fairy: Any, runner: Runner) -> None:
        self.runner = runner
        self._engine = engine
        self._fairy = fairy
        driver = fairy.driver_connection
        #: The SQLite connection, or None for asyncpg (the only other driver runners know).
        self._sqlite = driver if isinstance(driver, sqlite_loop.Connection) else None
        self._orm_connection: Connection | None = None
        self._on_end: list[Callable[[], None]] = []

    def call_on_end(self, callback: Callable[[], None]) -> None:
        """``callback()`` once this transaction has ended and its connection is back."""
        self._on_end.append(callback)

    @classmethod
    async def begin(cls, engine: Engine) -> DriverTransaction:
        """Check a connection out of ``engine``'s pool (one ``allow_driver_transactions`` was
        called for) and begin."""
        # Through a greenlet: a checkout may have to open a connection (an async driver call).
        fairy = await greenlet_spawn(engine.pool.connect)
        try:
            runner = driver_runner(engine.dialect, fairy)
            if runner is None:
                raise TypeError(f"{engine.url}: no driver transactions on this driver")
            transaction = cls(engine, fairy, runner)
            await transaction.ensure_begun()
        except BaseException:
            await greenlet_spawn(fairy.close)
            raise
        return transaction

    async def ensure_begun(self) -> None:
        """Begun again if a block ``session.begin()`` opened has committed it since. On SQLite
        ``BEGIN IMMEDIATE`` now (the write lock, in this process's writer queue); asyncpg's
        transaction is started by the first statement (``AsyncpgRunner``), as its adapter does."""
        if self._sqlite is not None and not self._sqlite.raw().in_transaction:
            await self._sqlite.begin_immediate()

    def orm_connection(self) -> Connection:
        """A Core connection on the same pooled connection, for the ORM to join."""
        if self._fairy.dbapi_connection is None:
            raise PendingRollbackError("the connection was lost; roll back the session")
        if self._orm_connection is None:
            # Never re-connected to another pooled connection after a loss: the ORM would
            # carry on on a connection nobody gives back, outside this transaction.
            self._orm_connection = Connection(
                self._engine, connection=self._fairy, _allow_revalidate=False
            )
        return self._orm_connection

    async def end(self, *, commit: bool) -> bool:
        """Commit (or roll back) what is still open on the connection, then give it back to the
        pool; True if a commit was made here. A connection whose end failed is discarded."""
        fairy = self._fairy
        try:
            if fairy.dbapi_connection is None:
                # Invalidated under the ORM (a lost connection): what was open is gone with it.
                if commit:
                    raise PendingRollbackError("the connection was lost; nothing was committed")
                return False
            try:
                return await self._commit() if commit else await self._rollback()
            except BaseException:
                await greenlet_spawn(fairy.invalidate)
                raise
        finally:
            try:
                await greenlet_spawn(fairy.close)
            finally:
                for callback in self._on_end:
                    try:
                        callback()
                    except Exception:  # the others still run; the transaction's own error stays
                        logger.exception("a callback at the end of a transaction failed")

    async def _commit(self) -> bool:
        sqlite = self._sqlite
        if sqlite is not None:
            if not sqlite.raw().in_transaction:
                return False
            try:
                await sqlite.commit()
            except BaseException:
                await sqlite.rollback()
                raise
            return True
        return await self._finish_asyncpg("commit")

    async def _rollback(self) -> bool:
        sqlite = self._sqlite
        if sqlite is not None:
            if sqlite.raw().in_transaction:
                await sqlite.rollback()
            return False
        await self._finish_asyncpg("rollback")
        return False

    async def _finish_asyncpg(self, action: str) -> bool:
        """``commit``/``rollback`` as SQLAlchemy's asyncpg adapter does them (its own methods
        wait through a greenlet): the transaction is dropped whether or not the call worked."""
        adapter = self._fairy.dbapi_connection
        transaction = adapter._transaction
        if transaction is None:
            if action == "commit" and adapter._connection.is_closed():
                # A statement met the loss (its error was raised): its writes are gone.
                raise PendingRollbackError("the connection was lost; nothing was committed")
            return False
        try:
            await adapter._call_and_discard(getattr(transaction, action))
        except Exception as error:
            adapter._handle_exception(error)  # raises it as the DBAPI error it is
            raise
        return True


class _RequestSyncSession(Session):
    """Binds the ORM to the session's driver transaction once there is one."""

    def get_bind(self, mapper: Any = None, *, bind: Any = None, **kw: Any) -> Engine | Connection:
        transaction: DriverTransaction | None = self.info.get(_DRIVER_TRANSACTION)
        if transaction is not None and bind is None:
            return transaction.orm_connection()
        return super().get_bind(mapper, bind=bind, **kw)


class RequestSession(AsyncSession):
    """An ``AsyncSession`` whose driver statements may run in a ``DriverTransaction``."""

    sync_session_class = _RequestSyncSession

    def driver_transaction(self) -> DriverTransaction | None:
        transaction: DriverTransaction | None = self.info.get(_DRIVER_TRANSACTION)
        return transaction

    async def begin_driver_transaction(self) -> DriverTransaction | None:
        """Begin one, unless the ORM has a transaction already or the engine was not made for
        driver transactions (then None)."""
        engine = self.sync_session.bind
        if (
            self.sync_session.in_transaction()
            or not isinstance(engine, Engine)
            or engine not in _ENGINES_WITH_DRIVER_TRANSACTIONS
        ):
            return None
        transaction = self.info[_DRIVER_TRANSACTION] = await DriverTransaction.begin(engine)
        return transaction

    async def _end_driver_transaction(self, *, commit: bool) -> bool:
        transaction: DriverTransaction | None = self.info.pop(_DRIVER_TRANSACTION, None)
        self.info.pop(_JOINED, None)
        return transaction is not None and await transaction.end(commit=commit)

    async def join_orm(self) -> None:
        """Connect an ORM transaction that is open but not connected yet to the driver
        transaction, so that the ORM's commit or rollback is that transaction's (a
        ``session.begin()`` block of driver statements only, a commit with nothing flushed)."""
        sync = self.sync_session
        if self.driver_transaction() is None or not sync.in_transaction():
            return
        current = (sync.get_transaction(), sync.get_nested_transaction())
        if self.info.get(_JOINED) != current:
            await self.connection()
            self.info[_JOINED] = current

    async def commit(self) -> None:
        await self.join_orm()
        orm_committed = self.sync_session.in_transaction()
        if orm_committed:
            await super().commit()  # the ORM joined the driver transaction: it commits it
        if await self._end_driver_transaction(commit=True) and not orm_committed:
            # What ``after_commit`` listeners wait for (the delivery wakeup) has committed.
            self.sync_session.dispatch.after_commit(self.sync_session)

    async def rollback(self) -> None:
        try:
            if self.sync_session.in_transaction():
                await super().rollback()
        finally:
            await self._end_driver_transaction(commit=False)

    async def close(self) -> None:
        sync = self.sync_session
        try:
            # A session that only ran driver statements has nothing of its own to close.
            if sync.in_transaction() or sync.identity_map or sync.new or sync.deleted:
                await super().close()
        finally:
            await self._end_driver_transaction(commit=False)
