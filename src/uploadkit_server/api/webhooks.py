"""``/webhooks``: signing keys and the delivery log (list, inspect, redeliver, delete)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from uploadkit_server.api.deps import ApiKeyAuth, RequestRoute, SessionDep
from uploadkit_server.core.schemas import Deleted, Page
from uploadkit_server.core.webhooks import service
from uploadkit_server.core.webhooks.schemas import (
    RotateSecretRequest,
    SigningKeysRead,
    WebhookDeliveryDetail,
    WebhookDeliveryRead,
)

router = APIRouter(route_class=RequestRoute, prefix="/webhooks", tags=["webhooks"])


@router.get("/signing-keys")
async def get_signing_keys(auth: ApiKeyAuth, session: SessionDep) -> SigningKeysRead:
    return await service.signing_keys(session, auth)


@router.post("/signing-keys/rotate")
async def rotate_signing_keys(auth: ApiKeyAuth, session: SessionDep) -> SigningKeysRead:
    return await service.rotate_signing_keys(session, auth)


@router.post("/signing-keys/rotate-secret")
async def rotate_webhook_secret(
    auth: ApiKeyAuth, session: SessionDep, body: RotateSecretRequest | None = None
) -> SigningKeysRead:
    return await service.rotate_webhook_secret(session, auth, request=body)


@router.get("/deliveries")
async def list_deliveries(
    auth: ApiKeyAuth,
    session: SessionDep,
    status: Annotated[str | None, Query()] = None,
    limit: Annotated[int | None, Query()] = None,
    cursor: Annotated[str | None, Query()] = None,
) -> Page[WebhookDeliveryRead]:
    return await service.list_deliveries(session, auth, status=status, limit=limit, cursor=cursor)


@router.get("/deliveries/{delivery_id}")
async def get_delivery(
    delivery_id: str, auth: ApiKeyAuth, session: SessionDep
) -> WebhookDeliveryDetail:
    return await service.get_delivery(session, auth, delivery_id=delivery_id)


@router.post("/deliveries/{delivery_id}/redeliver")
async def redeliver(delivery_id: str, auth: ApiKeyAuth, session: SessionDep) -> WebhookDeliveryRead:
    return await service.redeliver(session, auth, delivery_id=delivery_id)


@router.delete("/deliveries/{delivery_id}")
async def delete_delivery(delivery_id: str, auth: ApiKeyAuth, session: SessionDep) -> Deleted:
    await service.delete_delivery(session, auth, delivery_id=delivery_id)
    return Deleted()
