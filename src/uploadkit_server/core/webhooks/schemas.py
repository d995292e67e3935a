"""What the webhook endpoints return."""

from __future__ import annotations

from typing import Any

from uploadkit_server.core.schemas import CamelModel, Timestamp


class SigningKeysRead(CamelModel):
    """``currentSigningKey`` / ``nextSigningKey`` verify ``Upstash-Signature`` (a QStash
    Receiver takes both); ``secret`` (``whsec_…``) verifies the Standard Webhooks headers."""

    current_signing_key: str
    next_signing_key: str
    secret: str


class WebhookDeliveryRead(CamelModel):
    id: str
    event: str
    url: str
    file_id: str
    status: str
    next_attempt_at: Timestamp | None
    delivered_at: Timestamp | None
    created_at: Timestamp
    updated_at: Timestamp


class WebhookAttemptRead(CamelModel):
    attempted_at: Timestamp
    status_code: int | None
    error: str | None
    duration_ms: int
    response_excerpt: str | None


class WebhookDeliveryDetail(WebhookDeliveryRead):
    """A delivery with the exact body it sends and every attempt so far, oldest first."""

    payload: dict[str, Any]
    attempts: list[WebhookAttemptRead]
