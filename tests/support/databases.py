"""A uniquely named database per test: a file for SQLite, ``CREATE DATABASE`` on the PostgreSQL
server (dropped afterwards).

``fresh_database`` hands out databases already at the migration head. Running every migration
costs more than most tests do, so each dialect is migrated once per test session (per process:
every pytest-xdist worker has its own) into a template, and each test gets a copy of it:

- SQLite: the template is a file in a temporary directory of this process, checkpointed and
  closed once migrated; a test's database is a byte copy of that file.
- PostgreSQL: the template is a database ``uk_tmpl_<random>``; a test's database is
  ``CREATE DATABASE uk_test_<random> TEMPLATE uk_tmpl_…``. Random names keep parallel runs on
  one server (CI jobs, xdist workers) out of each other's way.

``drop_templates`` removes both at the end of the session (``tests/conftest.py`` calls it; an
``atexit`` hook is the fallback for a process that never reaches it).

``empty_database`` hands out a database with no schema at all, for what must run the real
migrations from scratch: the migration tests, and processes started together that must
serialise their own migrations.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import secrets
import shutil
import sqlite3
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg

from tests.support.services import TEST_DATABASE_URL, require_service
from uploadkit_server.db.migrate import migrate
from uploadkit_server.db.session import create_engine
from uploadkit_server.settings import to_async_database_url


class _Templates:
    """This process's migrated templates, each made on first use."""

    def __init__(self) -> None:
        self.sqlite_dir: Path | None = None
        self.sqlite: Path | None = None
        self.postgres: str | None = None


# Tests run one at a time in a process, so no lock guards the first use.
_templates = _Templates()


def _url_of(name: str) -> str:
    base, _, _ = TEST_DATABASE_URL.rpartition("/")
    return f"{base}/{name}"


async def _run_sql(statement: str) -> None:
    conn = await asyncpg.connect(TEST_DATABASE_URL)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def _create(name: str, *, template: str | None = None) -> None:
    clause = f' TEMPLATE "{template}"' if template else ""
    await _run_sql(f'CREATE DATABASE "{name}"{clause}')


async def _drop(name: str) -> None:
    await _run_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _migrate(url: str) -> None:
    engine = create_engine(to_async_database_url(url))
    try:
        await migrate(engine)
    finally:
        await engine.dispose()


async def _sqlite_template() -> Path:
    if _templates.sqlite is None:
        directory = Path(tempfile.mkdtemp(prefix="uk-sqlite-template-"))
        _templates.sqlite_dir = directory
        path = directory / "template.db"
        await _migrate(f"sqlite:///{path}")
        # Fold the write-ahead log into the file, so that copying the file copies everything.
        with contextlib.closing(sqlite3.connect(path)) as connection:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        _templates.sqlite = path
    return _templates.sqlite


async def _postgres_template() -> str:
    if _templates.postgres is None:
        name = f"uk_tmpl_{secrets.token_hex(6)}"
        await _create(name)
        _templates.postgres = name  # from here on, dropped at the end even if migrating fails
        try:
            await _migrate(_url_of(name))
        except BaseException:
            _templates.postgres = None
            await _drop(name)
            raise
    return _templates.postgres


def drop_templates() -> None:
    """Remove this process's templates; called once no test needs them any more."""
    name, _templates.postgres = _templates.postgres, None
    if name is not None:
        asyncio.run(_drop(name))
    directory, _templates.sqlite_dir, _templates.sqlite = _templates.sqlite_dir, None, None
    if directory is not None:
        shutil.rmtree(directory, ignore_errors=True)


atexit.register(drop_templates)


@asynccontextmanager
async def _new_postgres_database(*, template: str | None) -> AsyncIterator[str]:
    name = f"uk_test_{secrets.token_hex(6)}"
    await _create(name, template=template)
    try:
        yield _url_of(name)
    finally:
        await _drop(name)


@asynccontextmanager
async def fresh_database(kind: str, tmp_path: Path) -> AsyncIterator[str]:
    """A new database at the migration head, copied from this session's template."""
    if kind == "sqlite":
        path = tmp_path / "test.db"
        shutil.copyfile(await _sqlite_template(), path)
        yield f"sqlite:///{path}"
        return
    require_service("PostgreSQL", TEST_DATABASE_URL, 5432)
    async with _new_postgres_database(template=await _postgres_template()) as url:
        yield url


@asynccontextmanager
async def empty_database(kind: str, tmp_path: Path) -> AsyncIterator[str]:
    """A new database without any schema: the migrations have not run on it."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    require_service("PostgreSQL", TEST_DATABASE_URL, 5432)
    async with _new_postgres_database(template=None) as url:
        yield url
