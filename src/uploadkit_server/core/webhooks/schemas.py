"""What the webhook endpoints return."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from uploadkit_server.core.schemas import CamelModel, Timestamp

#: Default and longest grace period of a ``whsec_`` secret rotation, in seconds.
DEFAULT_SECRET_GRACE_SECONDS = 24 * 3600
MAX_SECRET_GRACE_SECONDS = 30 * 24 * 3600


class SigningKeysRead(CamelModel):
    """``currentSigningKey`` / ``nextSigningKey`` verify ``Upstash-Signature`` (a QStash
    Receiver takes both); ``secret`` (``whsec_…``) verifies the Standard Webhooks headers.
    After a secret rotation, ``previousSecret`` signs deliveries too until
    ``previousSecretExpiresAt``; both are null outside a grace period."""

    current_signing_key: str
    next_signing_key: str
    secret: str
    previous_secret: str | None = None
    previous_secret_expires_at: Timestamp | None = None


class RotateSecretRequest(CamelModel):
    """Seconds the old secret keeps signing next to the new one (0: it stops at once)."""

    grace_period_seconds: int = Field(
        default=DEFAULT_SECRET_GRACE_SECONDS, ge=0, le=MAX_SECRET_GRACE_SECONDS
    )


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
