"""``verify_webhook`` accepts what the ``standardwebhooks`` library signs, and nothing else."""

from __future__ import annotations

import base64
import json
import os
import time
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook

from uploadkit_client import WebhookVerificationError, verify_webhook

SECRET = "whsec_" + base64.b64encode(os.urandom(24)).decode()
BODY = json.dumps({"event": "onUploadComplete", "file": {"key": "p/r/x/a.jpg"}, "metadata": {}})


def signed_headers(body: str, *, msg_id: str = "msg_1", at: float | None = None) -> dict[str, str]:
    timestamp = datetime.fromtimestamp(time.time() if at is None else at, tz=UTC)
    signature = Webhook(SECRET).sign(msg_id, timestamp, body)
    return {
        "Webhook-Id": msg_id,
        "Webhook-Timestamp": str(int(timestamp.timestamp())),
        "Webhook-Signature": signature,
    }


def test_accepts_a_standard_webhooks_signature() -> None:
    event = verify_webhook(BODY.encode(), signed_headers(BODY), SECRET)
    assert event["event"] == "onUploadComplete"
    assert verify_webhook(BODY, signed_headers(BODY), SECRET) == event  # str body too


def test_any_of_several_signatures_may_match() -> None:
    headers = signed_headers(BODY)
    headers["Webhook-Signature"] = "v1,bm90IHRoaXMgb25l " + headers["Webhook-Signature"]
    assert verify_webhook(BODY, headers, SECRET)["event"] == "onUploadComplete"


@pytest.mark.parametrize(
    "tamper",
    [
        lambda h, b: (h, b.replace("a.jpg", "b.jpg")),
        lambda h, b: ({**h, "Webhook-Id": "msg_2"}, b),
        lambda h, b: ({**h, "Webhook-Timestamp": str(int(h["Webhook-Timestamp"]) + 1)}, b),
        lambda h, b: ({k: v for k, v in h.items() if k != "Webhook-Signature"}, b),
        lambda h, b: ({**h, "Webhook-Timestamp": "soon"}, b),
    ],
    ids=["body", "id", "timestamp", "no-signature", "bad-timestamp"],
)
def test_refuses_tampering(tamper: object) -> None:
    headers, body = tamper(signed_headers(BODY), BODY)  # type: ignore[operator]
    with pytest.raises(WebhookVerificationError):
        verify_webhook(body, headers, SECRET)


def test_refuses_another_secret() -> None:
    other = "whsec_" + base64.b64encode(os.urandom(24)).decode()
    with pytest.raises(WebhookVerificationError, match="No webhook signature"):
        verify_webhook(BODY, signed_headers(BODY), other)


def test_refuses_old_and_future_timestamps_outside_the_tolerance() -> None:
    now = time.time()
    old = signed_headers(BODY, at=now - 301)
    with pytest.raises(WebhookVerificationError, match="tolerance"):
        verify_webhook(BODY, old, SECRET, now=now)
    future = signed_headers(BODY, at=now + 301)
    with pytest.raises(WebhookVerificationError, match="tolerance"):
        verify_webhook(BODY, future, SECRET, now=now)
    assert verify_webhook(BODY, old, SECRET, now=now, tolerance=600)


def test_what_we_sign_the_library_verifies() -> None:
    from uploadkit_client.signatures import sign_webhook

    timestamp = int(time.time())
    headers = {
        "webhook-id": "msg_9",
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign_webhook(BODY, msg_id="msg_9", timestamp=timestamp, secret=SECRET),
    }
    assert Webhook(SECRET).verify(BODY, headers)["event"] == "onUploadComplete"
