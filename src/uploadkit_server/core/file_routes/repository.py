"""File route rows, always reached through the owning account."""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from uploadkit_server.db.driver import DriverStatement
from uploadkit_server.db.models import FileRoute, Project


async def list_for_project(session: AsyncSession, project_id: str) -> list[FileRoute]:
    rows = await session.scalars(
        select(FileRoute).where(FileRoute.project_id == project_id).order_by(FileRoute.pk)
    )
    return list(rows)


async def get_for_account(
    session: AsyncSession, account_id: str, route_id: str
) -> FileRoute | None:
    return await session.scalar(
        select(FileRoute)
        .join(Project, Project.id == FileRoute.project_id)
        .where(FileRoute.id == route_id, Project.account_id == account_id)
    )


class RouteRules(NamedTuple):
    """What an upload needs of its route: the policy, not the row to change."""

    id: str
    slug: str
    max_file_size: int
    max_file_count: int
    allowed_types: list[str]
    type_check: str


_BY_SLUG = DriverStatement(
    lambda _dialect: select(
        FileRoute.id,
        FileRoute.slug,
        FileRoute.max_file_size,
        FileRoute.max_file_count,
        FileRoute.allowed_types,
        FileRoute.type_check,
    ).where(FileRoute.project_id == bindparam("project_id"), FileRoute.slug == bindparam("slug"))
)


async def get_by_slug(session: AsyncSession, project_id: str, slug: str) -> RouteRules | None:
    """Read on every upload request, on the driver connection (``db/driver.py``)."""
    row = await _BY_SLUG.first(session, {"project_id": project_id, "slug": slug})
    return None if row is None else RouteRules(*row)


def add_route(session: AsyncSession, route: FileRoute) -> None:
    """Add the new route to the session; it is inserted at the next flush, where a slug taken
    meanwhile fails the unique constraint (``service._flush_unique``)."""
    session.add(route)


async def delete_route(session: AsyncSession, route: FileRoute) -> None:
    await session.delete(route)
    await session.flush()


async def webhook_url(session: AsyncSession, route_id: str) -> str | None:
    """The route's ``webhookUrl`` as it is now (``None`` if unset or the route is gone)."""
    return await session.scalar(select(FileRoute.webhook_url).where(FileRoute.id == route_id))
