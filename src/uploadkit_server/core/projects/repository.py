"""Project rows."""

from __future__ import annotations

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from uploadkit_server.clock import utcnow
from uploadkit_server.db.models import Account, Project


async def lock_account(session: AsyncSession, account_id: str) -> Account | None:
    """Serialise creations under one account (projects, keys) so count-then-insert limits hold.

    Touching the row takes PostgreSQL's row lock until commit; SQLite already holds the database
    write lock from ``BEGIN IMMEDIATE``.
    """
    await session.execute(
        update(Account).where(Account.id == account_id).values(updated_at=utcnow())
    )
    return await session.get(Account, account_id)


async def count_projects(session: AsyncSession, account_id: str) -> int:
    return int(
        await session.scalar(
            select(func.count()).select_from(Project).where(Project.account_id == account_id)
        )
        or 0
    )


async def slug_taken(session: AsyncSession, account_id: str, slug: str) -> bool:
    found = await session.scalar(
        select(Project.pk).where(Project.account_id == account_id, Project.slug == slug)
    )
    return found is not None


async def get_project(session: AsyncSession, account_id: str, project_id: str) -> Project | None:
    return await session.scalar(
        select(Project).where(Project.id == project_id, Project.account_id == account_id)
    )


async def list_projects(session: AsyncSession, account_id: str) -> list[Project]:
    result = await session.scalars(
        select(Project).where(Project.account_id == account_id).order_by(Project.pk)
    )
    return list(result)


async def delete_project_row(session: AsyncSession, project_id: str) -> None:
    """Delete the project; the database cascades to its keys, routes, files, upload events and
    webhook deliveries (with their attempts)."""
    await session.execute(delete(Project).where(Project.id == project_id))


async def add_project(session: AsyncSession, project: Project) -> None:
    """Insert the new project now, so its keys and routes can follow in the transaction."""
    session.add(project)
    await session.flush()


async def rename_project(session: AsyncSession, project: Project, name: str) -> None:
    project.name = name
    await session.flush()
