"""Statements of the request hot path, run on the driver connection of a session's transaction.

A statement executed through SQLAlchemy's async layer costs about 250 µs of CPU on a small
machine (execution context, result object, and a greenlet switch for every driver call), while
the same statement costs 5 to 20 µs in ``sqlite3`` and a few tens in asyncpg. The statements
every presign and listing runs (the key lookup, the route, the file insert, the quota rows, the
page of files) are therefore ``DriverStatement``s: a Core statement, built once, compiled once per
dialect into its SQL text, parameter order and SQLAlchemy's own bind and result processors
(so values are stored and read exactly as through the ORM), then run on the driver connection
of the session's transaction:

- in a ``RequestSession`` (``db/driver_transaction.py``) whose ORM has not begun, a transaction
  begun on a pooled connection by the first such statement, which ORM work later in the
  session joins;
- otherwise the connection the ORM's transaction holds.

On SQLite the statement runs through ``db/sqlite_loop.py`` (the transaction's
``BEGIN IMMEDIATE`` has taken the write lock, so it runs at once on the loop); on PostgreSQL on
the asyncpg connection, after the transaction SQLAlchemy's adapter opens lazily has been
started (``db/driver_runners.py``).

The transaction stays the session's: it commits or rolls back with everything else the request
did through the ORM. Any other driver (the in-memory SQLite of some tests) runs the statement
through SQLAlchemy, with the same results. For example::

    KEY_OF = DriverStatement(lambda _dialect: select(File.key).where(File.id == bindparam("id")))
    await KEY_OF.first(session, {"id": "file_…"})  # ('proj_…/images/…/photo.jpg',) or None
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Executable
from sqlalchemy.sql.compiler import SQLCompiler

from uploadkit_server.db.driver_runners import Runner, SessionRunner, driver_runner
from uploadkit_server.db.driver_transaction import RequestSession

Processor = Callable[[Any], Any] | None

_RUNNER = "uploadkit.driver_runner"


@dataclass(frozen=True)
class _Parameter:
    """Where one positional parameter's value comes from: the caller's ``name``, else a Python
    column default, else the value the statement was built with."""

    name: str
    process: Processor
    default: Callable[[], Any] | None
    built_with: Any
    required: bool

    def value(self, values: Mapping[str, Any]) -> Any:
        if self.name in values:
            value = values[self.name]
        elif self.default is not None:
            value = self.default()
        elif self.required:
            raise KeyError(f"a value is required for parameter {self.name!r}")
        else:
            value = self.built_with
        return value if self.process is None else self.process(value)


@dataclass(frozen=True)
class _Compiled:
    statement: Executable
    sql: str
    parameters_in_order: tuple[_Parameter, ...]
    width: int
    #: The result columns that have a processor, by position: a listing reads many rows, and
    #: most columns (text, integers) come back from the driver as they are.
    processed: tuple[tuple[int, Callable[[Any], Any]], ...]

    def parameters(self, values: Mapping[str, Any]) -> list[Any]:
        return [parameter.value(values) for parameter in self.parameters_in_order]

    def row(self, raw: Sequence[Any]) -> tuple[Any, ...]:
        if len(raw) != self.width:
            raise ValueError(f"a row of {len(raw)} columns for a statement of {self.width}")
        if not self.processed:
            return tuple(raw)
        values = list(raw)
        for index, process in self.processed:
            value = values[index]
            if value is not None:
                values[index] = process(value)
        return tuple(values)


def _compile(statement: Executable, dialect: Dialect) -> _Compiled:
    compiled = statement.compile(dialect=dialect)  # type: ignore[attr-defined]
    assert isinstance(compiled, SQLCompiler)
    if compiled.positiontup is None or compiled.post_compile_params:
        raise ValueError("a DriverStatement needs a positional dialect and no expanding binds")
    defaults = _defaults(compiled)
    parameters = []
    for name in compiled.positiontup:
        bind = compiled.binds[name]
        if bind.callable is not None:
            raise ValueError(f"{name}: a bindparam with a callable value is not supported")
        parameters.append(
            _Parameter(
                name=name,
                process=bind.type.dialect_impl(dialect).bind_processor(dialect),
                default=defaults.get(name),
                built_with=bind.value,
                required=bind.required and name not in defaults,
            )
        )
    results = [
        entry.type.dialect_impl(dialect).result_processor(dialect, None)
        for entry in compiled._result_columns
    ]
    processed = tuple(
        (index, process) for index, process in enumerate(results) if process is not None
    )
    return _Compiled(statement, compiled.string, tuple(parameters), len(results), processed)


def _defaults(compiled: SQLCompiler) -> dict[str, Callable[[], Any]]:
    """The Python-side column defaults (``default=``, ``onupdate=``) the statement leaves to the
    execution context, as SQLAlchemy computes them: a constant, or a callable of no context."""
    found: dict[str, Callable[[], Any]] = {}
    for columns, attribute in (
        (compiled.insert_prefetch, "default"),
        (compiled.update_prefetch, "onupdate"),
    ):
        for column in columns:
            default = getattr(column, attribute)
            if default.is_scalar:
                found[column.key] = _constant(default.arg)
            elif default.is_callable:
                found[column.key] = partial(default.arg, None)
            else:
                raise ValueError(f"{column}: a SQL-expression default cannot be prefetched")
    return found


def _constant(value: Any) -> Callable[[], Any]:
    return lambda: value


async def _runner(session: AsyncSession) -> Runner:
    """Where the session's statements run now: its driver transaction (begun here if the ORM
    has no transaction yet), else the connection of the ORM's transaction."""
    if isinstance(session, RequestSession):
        transaction = session.driver_transaction()
        if transaction is None:
            transaction = await session.begin_driver_transaction()
        else:
            # Inside a block the ORM began (``session.begin()``): that block's commit or
            # rollback must be this statement's too (joining begins it, if it must be).
            await session.join_orm()
            await transaction.ensure_begun()
        if transaction is not None:
            return transaction.runner
    orm_transaction = session.sync_session.get_transaction()
    cached = session.info.get(_RUNNER)
    if cached is not None and orm_transaction is not None and cached[0] is orm_transaction:
        runner: Runner = cached[1]
        return runner
    connection = await session.connection()
    # The pooled connection the transaction holds, read without a further greenlet hop
    # (``get_raw_connection`` is one): it is checked out and begun already.
    fairy = connection.sync_connection.connection  # type: ignore[union-attr]
    dialect = connection.dialect
    runner = driver_runner(dialect, fairy) or SessionRunner(dialect, session)
    session.info[_RUNNER] = (session.sync_session.get_transaction(), runner)
    return runner


class DriverStatement:
    """A Core statement (``build(dialect_name)``, with ``bindparam`` values) run on the driver
    connection of a session's transaction; rows come back as tuples, processed as SQLAlchemy
    would process them. A write that must report whether it matched uses ``RETURNING``."""

    def __init__(self, build: Callable[[str], Executable]) -> None:
        self._build = build
        self._compiled: dict[str, _Compiled] = {}

    def _for(self, dialect: Dialect) -> _Compiled:
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            statement = self._build(dialect.name)
            compiled = self._compiled[dialect.name] = _compile(statement, dialect)
        return compiled

    async def rows(self, session: AsyncSession, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        runner = await _runner(session)
        return await runner.rows(self._for(runner.dialect), values)

    async def first(
        self, session: AsyncSession, values: Mapping[str, Any]
    ) -> tuple[Any, ...] | None:
        rows = await self.rows(session, values)
        return rows[0] if rows else None
