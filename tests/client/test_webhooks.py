"""Webhooks through the SDK against the real server: a local receiver verifies what the server
sends with ``verify_webhook``; deliveries are listed, inspected, redelivered and deleted."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.support.sdk import Live
from uploadkit_client import NotFound, UploadKit, verify_webhook


@dataclass
class Receiver:
    url: str
    received: list[tuple[bytes, dict[str, str]]] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, count: int, timeout: float = 20) -> list[tuple[bytes, dict[str, str]]]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.received) >= count, timeout)
        assert len(self.received) >= count, f"{len(self.received)} of {count} webhooks arrived"
        return self.received


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            self.send_response(204)
            self.end_headers()
            with state.arrived:
                state.received.append((body, {k.lower(): v for k, v in self.headers.items()}))
                state.arrived.notify_all()

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def delivered(sdk: UploadKit, delivery_id: str, *, attempts: int) -> dict[str, Any]:
    """The delivery once the server has recorded ``attempts`` attempts (recorded after sending)."""
    deadline = time.monotonic() + 20
    while True:
        delivery = sdk.webhooks.delivery(delivery_id)
        if len(delivery["attempts"]) >= attempts or time.monotonic() > deadline:
            return delivery
        time.sleep(0.05)


def test_webhook_round_trip_with_verify_and_delivery_management(
    sdk: UploadKit, live: Live, receiver: Receiver
) -> None:
    sdk.routes.create(live.project_id, slug="hooked", webhook_url=receiver.url)
    secret = sdk.webhooks.signing_keys()["secret"]
    assert secret.startswith("whsec_")

    file = sdk.upload(b"webhook me", route="hooked", file_name="w.txt", metadata={"m": 1})
    [(body, headers)] = receiver.wait_for(1)
    event = verify_webhook(body, headers, secret)
    assert event["event"] == "onUploadComplete"
    assert event["file"]["id"] == file["id"]

    [delivery] = [d for d in sdk.webhooks.deliveries() if d["fileId"] == file["id"]]
    detail = delivered(sdk, delivery["id"], attempts=1)
    assert detail["status"] == "delivered"
    assert detail["attempts"][0]["statusCode"] == 204
    assert delivery["id"] in {d["id"] for d in sdk.webhooks.deliveries(status="delivered")}

    sdk.webhooks.redeliver(delivery["id"])
    (again, again_headers) = receiver.wait_for(2)[1]
    assert verify_webhook(again, again_headers, secret)["file"]["id"] == file["id"]
    assert again_headers["webhook-id"] == headers["webhook-id"]  # the same message, again

    assert sdk.webhooks.delete_delivery(delivery["id"]) == {"deleted": True}
    with pytest.raises(NotFound):
        sdk.webhooks.delivery(delivery["id"])


def test_after_rotation_webhooks_verify_with_the_secret_now_listed(
    sdk: UploadKit, live: Live, receiver: Receiver
) -> None:
    before = sdk.webhooks.signing_keys()
    after = sdk.webhooks.rotate_signing_keys()
    assert after["currentSigningKey"] == before["nextSigningKey"]

    sdk.routes.create(live.project_id, slug="rotated", webhook_url=receiver.url)
    file = sdk.upload(b"after rotation", route="rotated")
    [(body, headers)] = receiver.wait_for(1)
    assert verify_webhook(body, headers, after["secret"])["file"]["id"] == file["id"]
