"""SQLite on the event loop: an aiosqlite-compatible connection for SQLAlchemy's aiosqlite dialect.

aiosqlite runs every call (execute, fetch, commit, even a cursor's close) on a worker thread and
waits for the answer, about 90 µs a hop on a small machine, while the statements of a request
take a few µs each against a local file; a presign cost some 60 calls and 16 hops. Here the same
async methods call ``sqlite3`` directly on the event loop, so a request costs what its SQL costs.
The price is that a long statement holds the loop while it runs: the server's statements are
index lookups and single-row writes, each bounded by a ``LIMIT``.

The loop must never block on SQLite's busy handler either, so the connections run with
``busy_timeout`` 0 and two queues replace it:

- Write transactions of one process queue on an ``asyncio.Lock`` per database file (taken by
  ``BEGIN``, given back when the transaction ends): writers of this process wait their turn in
  order instead of polling the file lock, and the lock is free whenever one begins.
- When another process holds the write lock, SQLite answers ``SQLITE_BUSY`` at once; the
  statement, which had no effect, is retried after an ``asyncio.sleep`` backoff (1 ms doubling to
  25 ms, jittered) for up to ``BUSY_DEADLINE`` seconds, then the error is raised as SQLite would
  have after its own timeout.

Checkpoints (copying the WAL back into the database file, with two ``fsync``s) would run inside
whichever ``COMMIT`` crossed SQLite's 1,000-page threshold, on the loop. These connections turn
that off (``wal_autocheckpoint=0``); instead a commit that finds the WAL past
``CHECKPOINT_WAL_BYTES`` starts a ``PASSIVE`` checkpoint on a worker thread, on a connection of
its own (one at a time per file and process). ``PASSIVE`` never waits for or blocks readers and
writers; frames it cannot copy yet are copied by the next one.

Used through ``create_async_engine(url, async_creator=...)`` (``db/session.py``); only the parts of
aiosqlite's interface that SQLAlchemy's adapter calls are provided.
"""

from __future__ import annotations

import asyncio
import os
import random
import sqlite3
import time
import weakref
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")

#: Seconds a statement (or a transaction waiting its turn) may wait for the write lock.
BUSY_DEADLINE = 30.0
#: WAL size past which a commit starts a checkpoint (SQLite's own default: 1,000 4 KiB pages).
CHECKPOINT_WAL_BYTES = 4 * 1024 * 1024
#: The WAL's size is looked at every this many commits of a connection.
CHECKPOINT_CHECK_EVERY = 16
_BACKOFF_FIRST = 0.001
_BACKOFF_MAX = 0.025

_writer_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


def writer_lock(path: str) -> asyncio.Lock:
    """The queue of write transactions on ``path`` in this process (per event loop: a lock
    belongs to one loop, and tests run several)."""
    loop = asyncio.get_running_loop()
    locks = _writer_locks.get(loop)
    if locks is None:
        locks = _writer_locks[loop] = {}
    lock = locks.get(path)
    if lock is None:
        lock = locks[path] = asyncio.Lock()
    return lock


#: The checkpoint running for each database file (one at a time per file and process); the
#: entry also keeps its task referenced until it is done.
_checkpoints: dict[str, asyncio.Task[None]] = {}


def checkpoint(path: str) -> None:
    """One ``PASSIVE`` checkpoint of the database at ``path``, on a connection of its own (run on
    a worker thread: it writes and syncs the database file)."""
    connection = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
    except sqlite3.OperationalError as error:
        if not _is_busy(error):  # another process is checkpointing: its copy serves this one
            raise
    finally:
        connection.close()


def _start_checkpoint_if_due(path: str) -> None:
    if path in _checkpoints:
        return
    try:
        size = os.stat(f"{path}-wal").st_size
    except FileNotFoundError:
        return
    if size < CHECKPOINT_WAL_BYTES:
        return
    task = asyncio.get_running_loop().create_task(asyncio.to_thread(checkpoint, path))
    _checkpoints[path] = task
    task.add_done_callback(lambda _task: _checkpoints.pop(path, None))


def _is_busy(error: sqlite3.OperationalError) -> bool:
    code = getattr(error, "sqlite_errorcode", None)
    if code is not None:
        return bool(code & 0xFF == sqlite3.SQLITE_BUSY)
    return "database is locked" in str(error)


async def _retry_busy(call: Callable[..., T], *args: Any) -> T:
    """``call(*args)``, again after a sleep while another process holds the lock."""
    delay = _BACKOFF_FIRST
    deadline: float | None = None
    while True:
        try:
            return call(*args)
        except sqlite3.OperationalError as error:
            if not _is_busy(error):
                raise
            now = time.monotonic()
            if deadline is None:
                deadline = now + BUSY_DEADLINE
            elif now >= deadline:
                raise
            await asyncio.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, _BACKOFF_MAX)


async def run_statement(
    raw: sqlite3.Connection, sql: str, parameters: Sequence[Any]
) -> sqlite3.Cursor:
    """One statement on ``raw``, straight from the caller (``db/driver.py``): inside a write
    transaction this process holds it runs at once; a read outside one waits out another
    process's lock like every statement here."""
    return await _retry_busy(raw.execute, sql, parameters)


def _begins(sql: str) -> bool:
    return sql.lstrip()[:5].upper() == "BEGIN"


class _Immediately:
    """Stands in for aiosqlite's request queue (``_tx``), which SQLAlchemy's adapter uses to set
    ``isolation_level``: the call is made at once."""

    def put_nowait(self, item: tuple[asyncio.Future[Any], Callable[[], Any]]) -> None:
        future, function = item
        try:
            future.set_result(function())
        except Exception as error:
            future.set_exception(error)


class Cursor:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._cursor = connection.raw().cursor()

    async def __aenter__(self) -> Cursor:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> Cursor:
        if _begins(sql):
            await self._connection.wait_for_turn()
        try:
            if parameters is None:
                await _retry_busy(self._cursor.execute, sql)
            else:
                await _retry_busy(self._cursor.execute, sql, parameters)
        finally:
            self._connection.end_turn_if_done()
        return self

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> Cursor:
        rows = list(parameters)  # retried as a whole: it must be iterable twice
        try:
            await _retry_busy(self._cursor.executemany, sql, rows)
        finally:
            self._connection.end_turn_if_done()
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(self._cursor.arraysize if size is None else size)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()

    async def __aiter__(self) -> AsyncIterator[Any]:
        for row in self._cursor:
            yield row

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value


class Connection:
    """One ``sqlite3`` connection (autocommit mode: ``BEGIN`` is sent explicitly) and its place
    in the writer queue while a transaction is open."""

    def __init__(self, raw: sqlite3.Connection, path: str) -> None:
        # ``_connection`` and ``_conn`` are the names SQLAlchemy's adapter reads on aiosqlite.
        self._connection: sqlite3.Connection | None = raw
        self._conn = raw
        self._tx = _Immediately()
        self._path = path
        self._turn: asyncio.Lock | None = None
        self._commits = 0

    def raw(self) -> sqlite3.Connection:
        if self._connection is None:
            raise ValueError("no active connection")
        return self._connection

    async def wait_for_turn(self) -> None:
        if self._turn is not None:
            return
        lock = writer_lock(self._path)
        try:
            # Not ``asyncio.wait_for``: on Python 3.11 it can swallow a cancellation that
            # arrives as the lock is granted, and a cancelled task (a dispatcher shutting down)
            # would then carry on as if nothing happened.
            async with asyncio.timeout(BUSY_DEADLINE):
                await lock.acquire()
        except TimeoutError:
            raise sqlite3.OperationalError("database is locked") from None
        self._turn = lock

    def end_turn_if_done(self) -> None:
        if self._turn is not None and (
            self._connection is None or not self._connection.in_transaction
        ):
            self._turn.release()
            self._turn = None

    @property
    def isolation_level(self) -> str | None:
        return self.raw().isolation_level

    def cursor(self) -> Cursor:
        return Cursor(self)

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> Cursor:
        cursor = self.cursor()
        await cursor.execute(sql, parameters)
        return cursor

    async def begin_immediate(self) -> None:
        """``BEGIN IMMEDIATE``, after this process's earlier writers (the engine's ``begin``)."""
        await self.wait_for_turn()
        try:
            await _retry_busy(self.raw().execute, "BEGIN IMMEDIATE")
        finally:
            self.end_turn_if_done()

    async def commit(self) -> None:
        try:
            await _retry_busy(self.raw().commit)
        finally:
            self.end_turn_if_done()
        self._commits += 1
        if self._commits % CHECKPOINT_CHECK_EVERY == 0:
            _start_checkpoint_if_due(self._path)

    async def rollback(self) -> None:
        try:
            self.raw().rollback()
        finally:
            self.end_turn_if_done()

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self.raw().create_function(*args, **kwargs)

    async def close(self) -> None:
        self.stop()

    def stop(self) -> None:
        """Close at once (also SQLAlchemy's ``terminate``): an open transaction is rolled back
        by SQLite, and the writer queue moves on."""
        raw, self._connection = self._connection, None
        try:
            if raw is not None:
                raw.close()
        finally:
            self.end_turn_if_done()


async def connect(path: str) -> Connection:
    """A connection to the database file at ``path`` (absolute: it also names the writer
    queue), in autocommit mode (the engine's ``begin`` event sends ``BEGIN IMMEDIATE``), without
    a busy handler."""
    raw = sqlite3.connect(path, timeout=0, isolation_level=None, check_same_thread=False)
    raw.execute("PRAGMA wal_autocheckpoint=0")  # checkpoints run on a worker thread instead
    return Connection(raw, path)
