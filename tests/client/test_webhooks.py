"""Webhooks through the SDK against the real server: a local receiver verifies what the server
sends with ``verify_webhook``; deliveries are listed, inspected, redelivered and deleted."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.support.sdk import Live
from tests.support.webhook_receiver import WebhookReceiver
from uploadkit_client import NotFound, UploadKit, verify_webhook


def delivered(sdk: UploadKit, delivery_id: str, *, attempts: int) -> dict[str, Any]:
    """The delivery once the server has recorded ``attempts`` attempts (recorded after sending)."""
    deadline = time.monotonic() + 20
    while True:
        delivery = sdk.webhooks.delivery(delivery_id)
        if len(delivery["attempts"]) >= attempts or time.monotonic() > deadline:
            return delivery
        time.sleep(0.05)


def test_webhook_round_trip_with_verify_and_delivery_management(
    sdk: UploadKit, live: Live, receiver: WebhookReceiver
) -> None:
    sdk.routes.create(live.project_id, slug="hooked", webhook_url=receiver.url)
    secret = sdk.webhooks.signing_keys()["secret"]
    assert secret.startswith("whsec_")

    file = sdk.upload(b"webhook me", route="hooked", file_name="w.txt", metadata={"m": 1})
    [webhook] = receiver.wait_for(1)
    body, headers = webhook.body, webhook.headers
    event = verify_webhook(body, headers, secret)
    assert event["event"] == "onUploadComplete"
    assert event["file"]["id"] == file["id"]

    [delivery] = [d for d in sdk.webhooks.deliveries() if d["fileId"] == file["id"]]
    detail = delivered(sdk, delivery["id"], attempts=1)
    assert detail["status"] == "delivered"
    assert detail["attempts"][0]["statusCode"] == 200
    assert delivery["id"] in {d["id"] for d in sdk.webhooks.deliveries(status="delivered")}

    sdk.webhooks.redeliver(delivery["id"])
    repeated = receiver.wait_for(2)[1]
    again, again_headers = repeated.body, repeated.headers
    assert verify_webhook(again, again_headers, secret)["file"]["id"] == file["id"]
    assert again_headers["webhook-id"] == headers["webhook-id"]  # the same message, again

    assert sdk.webhooks.delete_delivery(delivery["id"]) == {"deleted": True}
    with pytest.raises(NotFound):
        sdk.webhooks.delivery(delivery["id"])


def test_after_rotation_webhooks_verify_with_the_secret_now_listed(
    sdk: UploadKit, live: Live, receiver: WebhookReceiver
) -> None:
    before = sdk.webhooks.signing_keys()
    after = sdk.webhooks.rotate_signing_keys()
    assert after["currentSigningKey"] == before["nextSigningKey"]

    sdk.routes.create(live.project_id, slug="rotated", webhook_url=receiver.url)
    file = sdk.upload(b"after rotation", route="rotated")
    [webhook] = receiver.wait_for(1)
    body, headers = webhook.body, webhook.headers
    assert verify_webhook(body, headers, after["secret"])["file"]["id"] == file["id"]
