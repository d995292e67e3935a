"""Verify a webhook from UploadKit in a receiver, with the Standard Webhooks headers.

The signature is ``v1,`` + base64(HMAC-SHA256(secret, "{webhook-id}.{webhook-timestamp}.{body}"))
where the secret is the base64 part of the project's ``whsec_…`` secret (``GET
/webhooks/signing-keys``). Several space-separated signatures may be sent during key rotation;
one match is enough.

>>> secret = os.environ["UPLOADKIT_WEBHOOK_SECRET"]
>>> event = verify_webhook(request.body, request.headers, secret)
>>> event["file"]["key"]
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

from uploadkit_client.errors import WebhookVerificationError

SECRET_PREFIX = "whsec_"
DEFAULT_TOLERANCE_SECONDS = 5 * 60


def _secret_bytes(secret: str) -> bytes:
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        return base64.b64decode(encoded, validate=True)
    except ValueError:
        raise WebhookVerificationError(
            "The webhook secret is not a whsec_… secret", suggestion="Copy it from the signing keys"
        ) from None


def sign_webhook(body: bytes | str, *, msg_id: str, timestamp: int, secret: str) -> str:
    """The ``webhook-signature`` value for a body (what the server sends; handy in tests)."""
    payload = body.encode() if isinstance(body, str) else body
    signed = f"{msg_id}.{timestamp}.".encode() + payload
    digest = hmac.new(_secret_bytes(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify_webhook(
    body: bytes | str,
    headers: Mapping[str, str],
    secret: str,
    *,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> Any:
    """Check the signature and freshness of a webhook and return its decoded JSON body.

    Raises ``WebhookVerificationError`` when a header is missing, the timestamp is more than
    ``tolerance`` seconds away from now, or no signature matches. Pass the raw body, exactly as
    received: re-serialised JSON does not verify.
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    try:
        msg_id = lowered["webhook-id"]
        raw_timestamp = lowered["webhook-timestamp"]
        signatures = lowered["webhook-signature"]
    except KeyError as missing:
        raise WebhookVerificationError(f"Missing header {missing.args[0]}") from None
    try:
        timestamp = int(raw_timestamp)
    except ValueError:
        raise WebhookVerificationError("Invalid webhook-timestamp header") from None
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise WebhookVerificationError(
            "Webhook timestamp is outside the tolerance",
            suggestion="Check the receiver's clock, or the message is a replay",
        )
    expected = sign_webhook(body, msg_id=msg_id, timestamp=timestamp, secret=secret)
    for candidate in signatures.split():
        if candidate.startswith("v1,") and hmac.compare_digest(candidate, expected):
            payload = body.decode() if isinstance(body, bytes) else body
            return json.loads(payload)
    raise WebhookVerificationError("No webhook signature matches the secret")
