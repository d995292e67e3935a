"""File-route endpoints: ``/projects/{id}/routers`` and ``/routers/{routeId}``."""

from __future__ import annotations

from fastapi import APIRouter

from uploadkit_server.api.deps import ApiKeyAuth, RequestRoute, SessionDep, SettingsDep
from uploadkit_server.core.file_routes import service
from uploadkit_server.core.file_routes.schemas import (
    FileRouteCreate,
    FileRouteRead,
    FileRouteUpdate,
)
from uploadkit_server.core.schemas import Deleted, Items

router = APIRouter(route_class=RequestRoute, tags=["file routes"])


@router.get("/projects/{project_id}/routers")
async def list_routes(
    project_id: str, auth: ApiKeyAuth, session: SessionDep
) -> Items[FileRouteRead]:
    routes = await service.list_routes(session, auth, project_id=project_id)
    return Items[FileRouteRead](items=[FileRouteRead.model_validate(r) for r in routes])


@router.post("/projects/{project_id}/routers", status_code=201)
async def create_route(
    project_id: str,
    body: FileRouteCreate,
    auth: ApiKeyAuth,
    session: SessionDep,
    settings: SettingsDep,
) -> FileRouteRead:
    route = await service.create_route(
        session, auth, project_id=project_id, data=body, settings=settings
    )
    return FileRouteRead.model_validate(route)


@router.get("/routers/{route_id}")
async def get_route(route_id: str, auth: ApiKeyAuth, session: SessionDep) -> FileRouteRead:
    return FileRouteRead.model_validate(await service.get_route(session, auth, route_id=route_id))


@router.patch("/routers/{route_id}")
async def update_route(
    route_id: str,
    body: FileRouteUpdate,
    auth: ApiKeyAuth,
    session: SessionDep,
    settings: SettingsDep,
) -> FileRouteRead:
    route = await service.update_route(
        session, auth, route_id=route_id, data=body, settings=settings
    )
    return FileRouteRead.model_validate(route)


@router.delete("/routers/{route_id}")
async def delete_route(route_id: str, auth: ApiKeyAuth, session: SessionDep) -> Deleted:
    await service.delete_route(session, auth, route_id=route_id)
    return Deleted()
