"""Every delivery is signed twice, so receivers in either ecosystem verify it with stock code.

- ``Upstash-Signature``: the JWT QStash sends (HS256 over the project's current signing key, used
  as text). The ``qstash`` Receiver decodes it with ``issuer="Upstash"``, requires ``iss``, ``sub``,
  ``exp`` and ``nbf``, compares ``sub`` with the URL it was called on, and compares ``body`` with
  base64url(SHA-256(raw body)), padding ignored. It tries the current key, then the next one,
  which is what makes rotation seamless.
- Standard Webhooks: ``webhook-id`` (the delivery id, stable across retries), ``webhook-timestamp``
  (Unix seconds of this attempt) and ``webhook-signature`` (``v1,`` + base64 HMAC-SHA256 of
  ``"{id}.{timestamp}.{body}"`` keyed with the base64-decoded ``whsec_`` secret). During a
  secret rotation's grace period the header carries one ``v1,`` signature per secret, space
  separated (new secret first), as the spec allows: a receiver holding either secret verifies.

Signing costs about 20 µs per attempt (almost all of it the JWT), next to the HTTP request.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from secrets import token_hex

import jwt

from uploadkit_server.clock import utcnow

#: How long an Upstash-Signature stays valid; QStash uses five minutes too.
SIGNATURE_LIFETIME_SECONDS = 300
WHSEC_PREFIX = "whsec_"


def body_hash(body: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(body).digest()).decode().rstrip("=")


def upstash_signature(
    body: bytes, *, url: str, signing_key: str, now: datetime | None = None
) -> str:
    issued = int((now or utcnow()).timestamp())
    claims = {
        "iss": "Upstash",
        "sub": url,
        "iat": issued,
        "nbf": issued,
        "exp": issued + SIGNATURE_LIFETIME_SECONDS,
        "jti": "jwt_" + token_hex(16),
        "body": body_hash(body),
    }
    return jwt.encode(claims, signing_key, algorithm="HS256", headers={"typ": "JWT"})


@lru_cache(maxsize=1024)
def _secret_bytes(whsec: str) -> bytes:
    raw = whsec.removeprefix(WHSEC_PREFIX)
    return base64.b64decode(raw + "=" * (-len(raw) % 4))


def standard_webhook_headers(
    body: bytes, *, message_id: str, secrets: Sequence[str], now: datetime | None = None
) -> dict[str, str]:
    """``webhook-signature`` holds one ``v1,`` signature per secret, space separated."""
    if not secrets:
        raise ValueError("at least one whsec_ secret is needed")
    timestamp = str(int((now or utcnow()).timestamp()))
    signed = message_id.encode() + b"." + timestamp.encode() + b"." + body
    digests = (hmac.new(_secret_bytes(s), signed, hashlib.sha256).digest() for s in secrets)
    signatures = " ".join("v1," + base64.b64encode(digest).decode() for digest in digests)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": timestamp,
        "webhook-signature": signatures,
    }


def signed_headers(
    body: bytes,
    *,
    url: str,
    message_id: str,
    signing_key: str,
    secrets: Sequence[str],
    now: datetime | None = None,
) -> dict[str, str]:
    """All signature headers of one attempt (signed afresh each time, so retries are current)."""
    now = now or utcnow()
    return {
        "Upstash-Signature": upstash_signature(body, url=url, signing_key=signing_key, now=now),
        **standard_webhook_headers(body, message_id=message_id, secrets=secrets, now=now),
    }
