"""Webhook rules for the API: signing keys and their rotation, and the deliveries of the
caller's project and mode (a test key never sees a live delivery, and vice versa)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from uploadkit_server.clock import utcnow
from uploadkit_server.core.auth.context import AuthContext
from uploadkit_server.core.auth.sandbox import LiveOnly, require_live
from uploadkit_server.core.pagination import encode_cursor, page_request
from uploadkit_server.core.schemas import Page
from uploadkit_server.core.webhooks import repository, wakeup
from uploadkit_server.core.webhooks.schemas import (
    RotateSecretRequest,
    SigningKeysRead,
    WebhookAttemptRead,
    WebhookDeliveryDetail,
    WebhookDeliveryRead,
)
from uploadkit_server.db.models import DeliveryStatus, WebhookDelivery
from uploadkit_server.errors import NotFound, ValidationFailed
from uploadkit_server.security import generate_signing_key, generate_webhook_secret


async def signing_keys(session: AsyncSession, auth: AuthContext) -> SigningKeysRead:
    project = await repository.get_project(session, auth.project_id)
    if project is None:
        raise NotFound("Project not found")
    in_grace = repository.signing_secrets(
        project.webhook_secret,
        project.previous_webhook_secret,
        project.previous_webhook_secret_expires_at,
        now=utcnow(),
    )
    return SigningKeysRead(
        current_signing_key=project.current_signing_key,
        next_signing_key=project.next_signing_key,
        secret=project.webhook_secret,
        previous_secret=in_grace[1] if len(in_grace) > 1 else None,
        previous_secret_expires_at=(
            project.previous_webhook_secret_expires_at if len(in_grace) > 1 else None
        ),
    )


async def rotate_signing_keys(session: AsyncSession, auth: AuthContext) -> SigningKeysRead:
    """The next key becomes current and a new next key is minted. Receivers configured with the
    old pair keep verifying, because the new current key is their old next one."""
    require_live(auth, LiveOnly.ROTATE_SIGNING_KEYS)
    await repository.rotate_signing_keys(session, auth.project_id, new_next=generate_signing_key())
    session.expire_all()
    return await signing_keys(session, auth)


async def rotate_webhook_secret(
    session: AsyncSession, auth: AuthContext, *, request: RotateSecretRequest | None = None
) -> SigningKeysRead:
    """A new ``whsec_`` secret becomes current. For the grace period, every attempt is signed
    with both (two ``v1,`` signatures in ``webhook-signature``), so receivers still holding the
    old secret keep verifying until they switch. Rotating again during a grace period retires
    the older secret at once: only the two newest ever sign."""
    require_live(auth, LiveOnly.ROTATE_WEBHOOK_SECRET)
    grace = (request or RotateSecretRequest()).grace_period_seconds
    await repository.rotate_webhook_secret(
        session,
        auth.project_id,
        new_secret=generate_webhook_secret(),
        previous_expires_at=utcnow() + timedelta(seconds=grace),
    )
    session.expire_all()
    return await signing_keys(session, auth)


def parse_status(value: str | None) -> DeliveryStatus | None:
    if value is None:
        return None
    try:
        return DeliveryStatus(value)
    except ValueError:
        allowed = ", ".join(status.value for status in DeliveryStatus)
        raise ValidationFailed(
            f"Unknown status {value!r}: use one of {allowed}",
            details={"status": [f"must be one of {allowed}"]},
        ) from None


async def list_deliveries(
    session: AsyncSession,
    auth: AuthContext,
    *,
    status: str | None,
    limit: int | None,
    cursor: str | None,
) -> Page[WebhookDeliveryRead]:
    wanted = parse_status(status)
    page = page_request(limit=limit, cursor=cursor)
    rows = await repository.list_deliveries(
        session, project_id=auth.project_id, is_test=auth.is_test, status=wanted, page=page
    )
    has_more = len(rows) > page.limit
    rows = rows[: page.limit]
    return Page(
        items=[WebhookDeliveryRead.model_validate(row) for row in rows],
        next_cursor=encode_cursor(rows[-1].pk) if has_more else None,
        has_more=has_more,
    )


async def _find(session: AsyncSession, auth: AuthContext, delivery_id: str) -> WebhookDelivery:
    delivery = await repository.get_delivery(
        session, project_id=auth.project_id, is_test=auth.is_test, delivery_id=delivery_id
    )
    if delivery is None:
        raise NotFound(f"No webhook delivery {delivery_id}")
    return delivery


async def get_delivery(
    session: AsyncSession, auth: AuthContext, *, delivery_id: str
) -> WebhookDeliveryDetail:
    delivery = await _find(session, auth, delivery_id)
    attempts = await repository.list_attempts(session, delivery.pk)
    return WebhookDeliveryDetail(
        **WebhookDeliveryRead.model_validate(delivery).model_dump(),
        payload=json.loads(delivery.payload),
        attempts=[WebhookAttemptRead.model_validate(attempt) for attempt in attempts],
    )


async def redeliver(
    session: AsyncSession, auth: AuthContext, *, delivery_id: str
) -> WebhookDeliveryRead:
    """Queue the delivery again, whatever its state (dead and delivered included), with a fresh
    retry schedule. Same id and body, newly signed."""
    delivery = await _find(session, auth, delivery_id)
    await repository.requeue(session, delivery, now=utcnow())
    wakeup.notify_after_commit(session)
    return WebhookDeliveryRead.model_validate(delivery)


async def delete_delivery(session: AsyncSession, auth: AuthContext, *, delivery_id: str) -> None:
    delivery = await _find(session, auth, delivery_id)
    await repository.delete_delivery(session, delivery.pk)


async def queue_state(session: AsyncSession, *, now: datetime) -> tuple[int, float]:
    """Deliveries waiting, and seconds since the oldest due one became due (0 if none)."""
    depth, oldest = await repository.queue_snapshot(session, now=now)
    return depth, max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0
