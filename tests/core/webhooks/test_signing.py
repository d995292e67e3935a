"""Signature headers, checked by the receiving libraries themselves (``qstash``,
``standardwebhooks``), unmodified."""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta

import jwt
import pytest
from qstash import Receiver
from qstash.errors import SignatureError
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from uploadkit_server.clock import utcnow
from uploadkit_server.core.webhooks.signing import signed_headers
from uploadkit_server.security import generate_signing_key, generate_webhook_secret

URL = "https://example.com/api/webhooks/uploadkit"
BODY = b'{"event":"onUploadComplete","file":{"id":"file_1"},"metadata":{"k":"\xc3\xa9"}}'


def sign(*, key: str, secret: str, minutes_ago: int = 0) -> dict[str, str]:
    return signed_headers(
        BODY,
        url=URL,
        message_id="msg_abc",
        signing_key=key,
        secrets=(secret,),
        now=utcnow() - timedelta(minutes=minutes_ago),
    )


def test_upstash_signature_has_the_qstash_claims() -> None:
    key = generate_signing_key()
    headers = sign(key=key, secret=generate_webhook_secret())
    claims = jwt.decode(headers["Upstash-Signature"], key, algorithms=["HS256"], issuer="Upstash")
    assert set(claims) == {"iss", "sub", "iat", "nbf", "exp", "jti", "body"}
    assert claims["sub"] == URL and claims["nbf"] == claims["iat"] <= claims["exp"]
    digest = base64.urlsafe_b64encode(hashlib.sha256(BODY).digest()).decode().rstrip("=")
    assert claims["body"] == digest
    assert jwt.get_unverified_header(headers["Upstash-Signature"]) == {"alg": "HS256", "typ": "JWT"}


def test_qstash_receiver_accepts_current_and_next_key() -> None:
    current, upcoming = generate_signing_key(), generate_signing_key()
    secret = generate_webhook_secret()
    for key in (current, upcoming):
        signature = sign(key=key, secret=secret)["Upstash-Signature"]
        Receiver(current, upcoming).verify(signature=signature, body=BODY.decode(), url=URL)
    stranger = sign(key=generate_signing_key(), secret=secret)["Upstash-Signature"]
    with pytest.raises(SignatureError):
        Receiver(current, upcoming).verify(signature=stranger, body=BODY.decode(), url=URL)


def test_qstash_receiver_refuses_expired_and_tampered() -> None:
    key = generate_signing_key()
    old = sign(key=key, secret=generate_webhook_secret(), minutes_ago=10)["Upstash-Signature"]
    with pytest.raises(SignatureError, match="expired"):
        Receiver(key, key).verify(signature=old, body=BODY.decode())
    fresh = sign(key=key, secret=generate_webhook_secret())["Upstash-Signature"]
    with pytest.raises(SignatureError, match="body hash"):
        Receiver(key, key).verify(signature=fresh, body=BODY.decode() + " ")
    with pytest.raises(SignatureError, match="subject"):
        Receiver(key, key).verify(signature=fresh, body=BODY.decode(), url=URL + "?x=1")


def test_standard_webhooks_library_accepts_and_refuses() -> None:
    secret = generate_webhook_secret()
    headers = sign(key=generate_signing_key(), secret=secret)
    assert headers["webhook-id"] == "msg_abc"
    assert Webhook(secret).verify(BODY, headers) == {
        "event": "onUploadComplete",
        "file": {"id": "file_1"},
        "metadata": {"k": "é"},
    }
    with pytest.raises(WebhookVerificationError):
        Webhook(generate_webhook_secret()).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY.replace(b"file_1", b"file_2"), headers)
    with pytest.raises(WebhookVerificationError):  # replayed much later
        Webhook(secret).verify(
            BODY, sign(key=generate_signing_key(), secret=secret, minutes_ago=10)
        )
