"""Alembic environment: runs on the async engine that ``uploadkit_server.db.migrate`` passes in."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from uploadkit_server.db import models  # noqa: F401  (registers the tables)
from uploadkit_server.db.base import Base

target_metadata = Base.metadata


def run_on(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `uploadkit migrate`, which supplies the connection")
run_on(connection)
