"""``/projects``: the key's account's projects."""

from __future__ import annotations

from fastapi import APIRouter, status

from uploadkit_server.api.deps import ApiKeyAuth, RequestRoute, SessionDep, SettingsDep, StorageDep
from uploadkit_server.core.projects import service
from uploadkit_server.core.projects.schemas import ProjectCreate, ProjectRead, ProjectUpdate
from uploadkit_server.core.schemas import Deleted, Items

router = APIRouter(route_class=RequestRoute, tags=["projects"])


@router.get("/projects")
async def list_projects(auth: ApiKeyAuth, session: SessionDep) -> Items[ProjectRead]:
    projects = await service.list_projects(session, account_id=auth.account_id)
    return Items(items=[ProjectRead.model_validate(project) for project in projects])


@router.post("/projects", status_code=status.HTTP_201_CREATED)
async def create_project(
    body: ProjectCreate, auth: ApiKeyAuth, session: SessionDep, settings: SettingsDep
) -> ProjectRead:
    project = await service.create_project(
        session,
        account_id=auth.account_id,
        name=body.name,
        billing_url=settings.billing_url,
        caller=auth,
    )
    return ProjectRead.model_validate(project)


@router.get("/projects/{project_id}")
async def get_project(project_id: str, auth: ApiKeyAuth, session: SessionDep) -> ProjectRead:
    project = await service.get_project(session, account_id=auth.account_id, project_id=project_id)
    return ProjectRead.model_validate(project)


@router.patch("/projects/{project_id}")
async def rename_project(
    project_id: str, body: ProjectUpdate, auth: ApiKeyAuth, session: SessionDep
) -> ProjectRead:
    project = await service.rename_project(session, auth, project_id=project_id, name=body.name)
    return ProjectRead.model_validate(project)


@router.delete("/projects/{project_id}")
async def delete_project(
    project_id: str, auth: ApiKeyAuth, session: SessionDep, storage: StorageDep
) -> Deleted:
    await service.delete_project(session, auth, storage=storage, project_id=project_id)
    return Deleted()
