"""``/projects/{id}/keys`` and ``/keys/{id}``: API keys of the account's projects."""

from __future__ import annotations

from fastapi import APIRouter, status

from uploadkit_server.api.deps import ApiKeyAuth, RequestRoute, SessionDep, SettingsDep
from uploadkit_server.core.keys import service
from uploadkit_server.core.keys.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyRead, Revoked
from uploadkit_server.core.schemas import Items

router = APIRouter(route_class=RequestRoute, tags=["keys"])


@router.get("/projects/{project_id}/keys")
async def list_keys(project_id: str, auth: ApiKeyAuth, session: SessionDep) -> Items[ApiKeyRead]:
    keys = await service.list_keys(session, auth, project_id=project_id)
    return Items(items=[ApiKeyRead.model_validate(key) for key in keys])


@router.post("/projects/{project_id}/keys", status_code=status.HTTP_201_CREATED)
async def create_key(
    project_id: str,
    body: ApiKeyCreate,
    auth: ApiKeyAuth,
    session: SessionDep,
    settings: SettingsDep,
) -> ApiKeyCreated:
    created = await service.create_key(
        session,
        auth,
        project_id=project_id,
        name=body.name,
        is_test=body.is_test,
        billing_url=settings.billing_url,
    )
    return ApiKeyCreated(api_key=ApiKeyRead.model_validate(created.api_key), key=created.plaintext)


@router.delete("/keys/{key_id}")
async def revoke_key(key_id: str, auth: ApiKeyAuth, session: SessionDep) -> Revoked:
    await service.revoke_key(session, auth, key_id=key_id)
    return Revoked()
