"""File routes: named upload policies of a project. Slugs are unique per project."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from uploadkit_server.core.auth.context import AuthContext
from uploadkit_server.core.auth.sandbox import LiveOnly, require_live
from uploadkit_server.core.file_routes import repository
from uploadkit_server.core.file_routes.schemas import FileRouteCreate, FileRouteUpdate
from uploadkit_server.core.projects.repository import get_project
from uploadkit_server.core.webhooks import ssrf
from uploadkit_server.db.models import FileRoute, Project
from uploadkit_server.errors import DuplicateSlug, NotFound, ValidationFailed
from uploadkit_server.security import new_id
from uploadkit_server.settings import Settings


async def check_webhook_url(url: str | None, settings: Settings) -> None:
    """Webhook targets must be public HTTPS (the SSRF guard), unless private is allowed."""
    if url is None:
        return
    try:
        await ssrf.check_webhook_url(url, allow_private=settings.webhook_allow_private)
    except ssrf.UnsafeWebhookUrl as error:
        raise ValidationFailed(
            f"webhookUrl {error}",
            details={"webhookUrl": [f"must be a public https:// URL; {error}"]},
        ) from None


async def _project(session: AsyncSession, auth: AuthContext, project_id: str) -> Project:
    project = await get_project(session, auth.account_id, project_id)
    if project is None:
        raise NotFound(f"Project {project_id} not found")
    return project


async def _flush_unique(session: AsyncSession, slug: str) -> None:
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise DuplicateSlug(
            f"A file route with slug '{slug}' already exists in this project"
        ) from None


async def create_route(
    session: AsyncSession,
    auth: AuthContext,
    *,
    project_id: str,
    data: FileRouteCreate,
    settings: Settings,
) -> FileRoute:
    project = await _project(session, auth, project_id)
    require_live(auth, LiveOnly.CREATE_ROUTE)
    await check_webhook_url(data.webhook_url, settings)
    if await repository.get_by_slug(session, project.id, data.slug):
        raise DuplicateSlug(f"A file route with slug '{data.slug}' already exists in this project")
    route = FileRoute(
        id=new_id("route"),
        project_id=project.id,
        slug=data.slug,
        max_file_size=data.max_file_size,
        max_file_count=data.max_file_count,
        allowed_types=data.allowed_types,
        webhook_url=data.webhook_url,
        type_check=data.type_check,
    )
    repository.add_route(session, route)
    await _flush_unique(session, data.slug)
    return route


async def list_routes(
    session: AsyncSession, auth: AuthContext, *, project_id: str
) -> list[FileRoute]:
    project = await _project(session, auth, project_id)
    return await repository.list_for_project(session, project.id)


async def get_route(
    session: AsyncSession, auth: AuthContext, *, route_id: str, project_id: str | None = None
) -> FileRoute:
    """The account's route ``route_id``; with ``project_id``, only if it is that project's."""
    route = await repository.get_for_account(session, auth.account_id, route_id)
    if route is None or (project_id is not None and route.project_id != project_id):
        raise NotFound(f"File route {route_id} not found")
    return route


async def update_route(
    session: AsyncSession,
    auth: AuthContext,
    *,
    route_id: str,
    data: FileRouteUpdate,
    settings: Settings,
    project_id: str | None = None,
) -> FileRoute:
    route = await get_route(session, auth, route_id=route_id, project_id=project_id)
    require_live(auth, LiveOnly.UPDATE_ROUTE)
    changes = data.model_dump(exclude_unset=True, by_alias=False)  # snake_case: column names
    if "webhook_url" in changes:
        await check_webhook_url(changes["webhook_url"], settings)
    if changes.get("slug") is None:
        changes.pop("slug", None)
    elif changes["slug"] != route.slug and await repository.get_by_slug(
        session, route.project_id, changes["slug"]
    ):
        raise DuplicateSlug(
            f"A file route with slug '{changes['slug']}' already exists in this project"
        )
    for field in ("max_file_size", "max_file_count", "allowed_types", "type_check"):
        if field in changes and changes[field] is None:
            raise ValidationFailed(f"{field} cannot be null", details={field: ["cannot be null"]})
    for field, value in changes.items():
        setattr(route, field, value)
    await _flush_unique(session, route.slug)
    return route


async def delete_route(session: AsyncSession, auth: AuthContext, *, route_id: str) -> None:
    route = await get_route(session, auth, route_id=route_id)
    require_live(auth, LiveOnly.DELETE_ROUTE)
    await repository.delete_route(session, route)
