"""A fresh, uniquely named database per test: a file for SQLite, ``CREATE DATABASE`` on the
PostgreSQL server (dropped afterwards)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg

from tests.support.services import TEST_DATABASE_URL, require_service


@asynccontextmanager
async def fresh_database(kind: str, tmp_path: Path) -> AsyncIterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    require_service("PostgreSQL", TEST_DATABASE_URL, 5432)
    name = f"uk_test_{secrets.token_hex(6)}"
    admin_dsn = TEST_DATABASE_URL
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base, _, _ = TEST_DATABASE_URL.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        conn = await asyncpg.connect(admin_dsn)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()
