"""Queueing events: a delivery row written in the caller's transaction (the transactional outbox).

The upload service calls ``queue_upload_complete`` in the same transaction that marks the file
``UPLOADED``: both are committed or neither is, so a crash can never lose a webhook or send one
for an upload that did not complete. Dispatchers act on the row after commit.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from uploadkit_server.clock import utcnow
from uploadkit_server.core.file_routes import repository as file_routes_repository
from uploadkit_server.core.files.schemas import file_read
from uploadkit_server.core.webhooks import repository, wakeup
from uploadkit_server.db.models import DeliveryStatus, File, WebhookDelivery
from uploadkit_server.security import new_id

UPLOAD_COMPLETE = "onUploadComplete"


def upload_complete_body(file: File, *, cdn_base: str) -> str:
    """``{"event": "onUploadComplete", "file": {file object}, "metadata": {…}}``, compact JSON."""
    body: dict[str, Any] = {
        "event": UPLOAD_COMPLETE,
        "file": file_read(file, cdn_base=cdn_base).model_dump(mode="json", by_alias=True),
        "metadata": dict(file.metadata_ or {}),
    }
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


async def queue_upload_complete(
    session: AsyncSession, *, file: File, cdn_base: str
) -> WebhookDelivery | None:
    """Queue the file's ``onUploadComplete`` once, if its route has a ``webhookUrl`` (read now,
    so a URL changed after the upload was requested applies); ``None`` when it has none.
    Calling it again returns the same delivery.

    Call it after setting the file's status to ``UPLOADED``, in that same transaction. The
    dispatchers of this process are woken when the transaction commits.
    """
    if file.route_id is None:
        return None
    webhook_url = await file_routes_repository.webhook_url(session, file.route_id)
    if not webhook_url:
        return None
    await session.flush()  # the file's updated_at and status as they will be committed
    now = utcnow()
    delivery = WebhookDelivery(
        id=new_id("msg"),
        project_id=file.project_id,
        is_test=file.is_test,
        file_id=file.id,
        event=UPLOAD_COMPLETE,
        url=webhook_url,
        payload=upload_complete_body(file, cdn_base=cdn_base),
        status=DeliveryStatus.PENDING,
        next_attempt_at=now,
        created_at=now,
        updated_at=now,
    )
    stored = await repository.insert_once(session, delivery)
    wakeup.notify_after_commit(session)
    return stored
