"""Bring the schema up to date. Safe when several processes start at once on one database:
PostgreSQL takes an advisory lock for the duration, SQLite's ``BEGIN IMMEDIATE`` serialises."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
#: Arbitrary constant naming our advisory lock ("UPLK" in ASCII).
MIGRATION_LOCK_ID = 0x55504C4B


def _alembic_config(connection: Connection) -> Config:
    config = Config(str(MIGRATIONS_DIR / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": MIGRATION_LOCK_ID})
        connection.commit()
        try:
            command.upgrade(_alembic_config(connection), "head")
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": MIGRATION_LOCK_ID})
            connection.commit()
    else:
        command.upgrade(_alembic_config(connection), "head")


async def migrate(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        await connection.run_sync(_upgrade)
        await connection.commit()
