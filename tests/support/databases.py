"""A fresh, uniquely named database per test: a file for SQLite, ``CREATE DATABASE`` on the
PostgreSQL server (dropped afterwards).

PostgreSQL databases are cloned from a template migrated once per test run, so a test pays for
a file copy rather than for running every migration again.
"""

from __future__ import annotations

import asyncio
import atexit
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg

from tests.support.services import TEST_DATABASE_URL, require_service
from uploadkit_server.db.migrate import migrate
from uploadkit_server.db.session import create_engine
from uploadkit_server.settings import to_async_database_url

_template: str | None = None


def _url_of(name: str) -> str:
    base, _, _ = TEST_DATABASE_URL.rpartition("/")
    return f"{base}/{name}"


async def _drop(name: str) -> None:
    conn = await asyncpg.connect(TEST_DATABASE_URL)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def _drop_template_at_exit(name: str) -> None:
    atexit.register(lambda: asyncio.run(_drop(name)))


async def _migrated_template() -> str:
    global _template
    if _template is None:  # tests run one at a time in a process: no lock needed
        name = f"uk_tmpl_{secrets.token_hex(6)}"
        conn = await asyncpg.connect(TEST_DATABASE_URL)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        _drop_template_at_exit(name)
        engine = create_engine(to_async_database_url(_url_of(name)))
        try:
            await migrate(engine)
        finally:
            await engine.dispose()
        _template = name
    return _template


@asynccontextmanager
async def fresh_database(kind: str, tmp_path: Path) -> AsyncIterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    require_service("PostgreSQL", TEST_DATABASE_URL, 5432)
    template = await _migrated_template()
    name = f"uk_test_{secrets.token_hex(6)}"
    conn = await asyncpg.connect(TEST_DATABASE_URL)
    try:
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    finally:
        await conn.close()
    try:
        yield _url_of(name)
    finally:
        await _drop(name)
