"""Upload → complete → a signed ``onUploadComplete`` reaches a real HTTP receiver, verified by the
unmodified ``qstash`` and ``standardwebhooks`` libraries; retries end in ``dead``; redelivery;
once per file however complete is called."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from qstash import Receiver
from qstash.errors import SignatureError
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from tests.core.webhooks.helpers import list_deliveries, wait_for_status, wait_until_caught_up
from tests.support.api import FILE_FIELDS
from tests.support.uploads import request_upload, upload_file
from tests.support.webhook_receiver import WebhookReceiver, wait_until


async def signing_keys(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, str]:
    response = await client.get("/api/v1/webhooks/signing-keys", headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def verify_both(received: Any, keys: dict[str, str], url: str) -> dict[str, Any]:
    """Verify as a receiver would, with the libraries unmodified; return the parsed body."""
    Receiver(keys["currentSigningKey"], keys["nextSigningKey"]).verify(
        signature=received.headers["upstash-signature"], body=received.text, url=url
    )
    payload = Webhook(keys["secret"]).verify(received.body, received.headers)
    return dict(payload)


async def test_upload_complete_delivers_signed_webhook(
    client: httpx.AsyncClient,
    live_headers: dict[str, str],
    hooked_route: dict[str, Any],
    receiver: WebhookReceiver,
) -> None:
    file = await upload_file(client, live_headers, b"\x89PNG bytes", metadata={"user": "u_1"})
    await wait_until(lambda: receiver.count() == 1)
    received = receiver.received[0]
    keys = await signing_keys(client, live_headers)
    assert keys["secret"].startswith("whsec_")

    payload = verify_both(received, keys, receiver.url)
    assert payload == {"event": "onUploadComplete", "file": file, "metadata": {"user": "u_1"}}
    assert payload["file"]["status"] == "UPLOADED"
    assert received.headers["content-type"] == "application/json"
    assert received.headers["webhook-id"].startswith("msg_")

    [listed] = await list_deliveries(client, live_headers)
    assert listed["id"] == received.headers["webhook-id"]
    assert listed["fileId"] == file["id"] and listed["event"] == "onUploadComplete"
    detail = await wait_for_status(client, live_headers, listed["id"], "delivered")
    assert detail["payload"] == payload
    [attempt] = detail["attempts"]
    assert attempt["statusCode"] == 200 and attempt["error"] is None
    assert '"received": true' in attempt["responseExcerpt"]
    assert attempt["durationMs"] >= 0 and attempt["attemptedAt"].endswith("Z")
    assert detail["deliveredAt"] is not None


async def test_tampered_delivery_is_refused_by_both_libraries(
    client: httpx.AsyncClient,
    live_headers: dict[str, str],
    hooked_route: dict[str, Any],
    receiver: WebhookReceiver,
) -> None:
    await upload_file(client, live_headers, b"data")
    await wait_until(lambda: receiver.count() == 1)
    received = receiver.received[0]
    keys = await signing_keys(client, live_headers)
    tampered = received.text.replace('"UPLOADED"', '"FAILED"')
    assert tampered != received.text

    qstash = Receiver(keys["currentSigningKey"], keys["nextSigningKey"])
    with pytest.raises(SignatureError):
        qstash.verify(signature=received.headers["upstash-signature"], body=tampered)
    with pytest.raises(SignatureError):  # delivered to another URL than the signed one
        qstash.verify(
            signature=received.headers["upstash-signature"],
            body=received.text,
            url=receiver.url + "/elsewhere",
        )
    with pytest.raises(SignatureError):  # keys of another project
        Receiver("sig_other", "sig_other_next").verify(
            signature=received.headers["upstash-signature"], body=received.text
        )
    with pytest.raises(WebhookVerificationError):
        Webhook(keys["secret"]).verify(tampered.encode(), received.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(keys["secret"]).verify(
            received.body, {**received.headers, "webhook-id": "msg_forged"}
        )


async def test_rotation_signs_with_the_new_current_key(
    client: httpx.AsyncClient,
    live_headers: dict[str, str],
    hooked_route: dict[str, Any],
    receiver: WebhookReceiver,
) -> None:
    before = await signing_keys(client, live_headers)
    rotated = await client.post("/api/v1/webhooks/signing-keys/rotate", headers=live_headers)
    assert rotated.status_code == 200, rotated.text
    after = rotated.json()
    assert after["currentSigningKey"] == before["nextSigningKey"]
    assert after["nextSigningKey"] not in {before["currentSigningKey"], before["nextSigningKey"]}
    assert after["secret"] == before["secret"]
    assert await signing_keys(client, live_headers) == after

    await upload_file(client, live_headers, b"after rotation")
    await wait_until(lambda: receiver.count() == 1)
    signature = receiver.received[0].headers["upstash-signature"]
    body = receiver.received[0].text
    # Receivers still configured with the old pair accept it (through their next key)...
    Receiver(before["currentSigningKey"], before["nextSigningKey"]).verify(
        signature=signature, body=body, url=receiver.url
    )
    # ...and so do receivers updated to the new pair (through their current key).
    Receiver(after["currentSigningKey"], after["nextSigningKey"]).verify(
        signature=signature, body=body, url=receiver.url
    )
    # It is signed with the new current key, not the retired one.
    with pytest.raises(SignatureError):
        Receiver(before["currentSigningKey"], before["currentSigningKey"]).verify(
            signature=signature, body=body
        )


async def test_failures_are_retried_then_dead_with_every_attempt_listed(
    client: httpx.AsyncClient,
    live_headers: dict[str, str],
    hooked_route: dict[str, Any],
    receiver: WebhookReceiver,
) -> None:
    receiver.default_status = 503  # retry delays are 0, 0: three attempts, then dead
    await upload_file(client, live_headers, b"x")
    [listed] = await list_deliveries(client, live_headers)
    dead = await wait_for_status(client, live_headers, listed["id"], "dead", attempts=3)
    assert [a["statusCode"] for a in dead["attempts"]] == [503, 503, 503]
    assert all('"status": 503' in a["responseExcerpt"] for a in dead["attempts"])
    assert dead["nextAttemptAt"] is None and dead["deliveredAt"] is None
    assert receiver.count() == 3
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1  # stable id
    assert [d["id"] for d in await list_deliveries(client, live_headers, status="dead")] == [
        listed["id"]
    ]
    assert await list_deliveries(client, live_headers, status="pending") == []

    # Redelivery of a dead delivery: a fresh run, same id, the old attempts kept.
    receiver.default_status = 200
    again = await client.post(
        f"/api/v1/webhooks/deliveries/{listed['id']}/redeliver", headers=live_headers
    )
    assert again.status_code == 200, again.text
    assert again.json()["id"] == listed["id"]
    delivered = await wait_for_status(client, live_headers, listed["id"], "delivered", attempts=4)
    assert [a["statusCode"] for a in delivered["attempts"]] == [503, 503, 503, 200]
    assert receiver.received[-1].headers["webhook-id"] == listed["id"]

    # A delivered one can be sent again too.
    await client.post(f"/api/v1/webhooks/deliveries/{listed['id']}/redeliver", headers=live_headers)
    await wait_for_status(client, live_headers, listed["id"], "delivered", attempts=5)
    assert receiver.count() == 5
    keys = await signing_keys(client, live_headers)
    verify_both(receiver.received[-1], keys, receiver.url)  # signed afresh, still valid


async def test_retry_schedule_records_failed_then_next_attempt_time(
    client: httpx.AsyncClient,
    live_headers: dict[str, str],
    hooked_route: dict[str, Any],
    receiver: WebhookReceiver,
    runtime: Any,
) -> None:
    runtime.settings.webhook_retry_delays = [3600]  # read per attempt: the next one is far away
    receiver.default_status = 500
    await upload_file(client, live_headers, b"x")
    [listed] = await list_deliveries(client, live_headers)
    failed = await wait_for_status(client, live_headers, listed["id"], "failed", attempts=1)
    assert failed["nextAttemptAt"] > failed["attempts"][0]["attemptedAt"]
    assert failed["nextAttemptAt"][:4] == failed["attempts"][0]["attemptedAt"][:4]
    assert [d["id"] for d in await list_deliveries(client, live_headers, status="failed")] == [
        listed["id"]
    ]


async def test_connection_errors_and_timeouts_are_recorded(
    client: httpx.AsyncClient,
    live_headers: dict[str, str],
    account: Any,
    receiver: WebhookReceiver,
    runtime: Any,
) -> None:
    from tests.support.live_server import free_port
    from tests.support.uploads import create_route

    runtime.settings.webhook_retry_delays = []
    runtime.settings.webhook_timeout = 0.3
    down = f"http://127.0.0.1:{free_port()}/nobody-listens"
    await create_route(client, live_headers, account.project.id, slug="down", webhookUrl=down)
    await create_route(
        client, live_headers, account.project.id, slug="slow", webhookUrl=receiver.url
    )
    receiver.delay = 1.0

    await upload_file(client, live_headers, b"a", route="down")
    await upload_file(client, live_headers, b"b", route="slow")
    slow, refused = await list_deliveries(client, live_headers)
    refused_detail = await wait_for_status(client, live_headers, refused["id"], "dead", attempts=1)
    [attempt] = refused_detail["attempts"]
    assert attempt["statusCode"] is None and "Connect" in attempt["error"]
    slow_detail = await wait_for_status(client, live_headers, slow["id"], "dead", attempts=1)
    [attempt] = slow_detail["attempts"]
    assert attempt["statusCode"] is None and attempt["error"] == "timed out after 0.3 s"


async def test_redirects_are_not_followed(
    client: httpx.AsyncClient,
    live_headers: dict[str, str],
    hooked_route: dict[str, Any],
    receiver: WebhookReceiver,
    runtime: Any,
) -> None:
    runtime.settings.webhook_retry_delays = []
    receiver.default_status = 307  # no Location needed: a 3xx is simply a failed attempt
    await upload_file(client, live_headers, b"x")
    [listed] = await list_deliveries(client, live_headers)
    dead = await wait_for_status(client, live_headers, listed["id"], "dead", attempts=1)
    assert dead["attempts"][0]["statusCode"] == 307
    assert receiver.count() == 1


async def test_complete_fires_once_per_file_even_concurrently(
    app: FastAPI,
    client: httpx.AsyncClient,
    live_headers: dict[str, str],
    hooked_route: dict[str, Any],
    receiver: WebhookReceiver,
) -> None:
    ticket = (await request_upload(client, live_headers, size=3)).json()
    put = await client.put(
        ticket["uploadUrl"], content=b"abc", headers={"content-type": "image/jpeg"}
    )
    assert put.status_code in (200, 201, 204)

    async def complete() -> httpx.Response:
        return await client.post(
            "/api/v1/upload/complete", json={"fileId": ticket["fileId"]}, headers=live_headers
        )

    results = await asyncio.gather(*(complete() for _ in range(8)))
    assert {r.status_code for r in results} == {200}
    assert (await complete()).status_code == 200  # and once more, afterwards
    [listed] = await list_deliveries(client, live_headers)
    await wait_for_status(client, live_headers, listed["id"], "delivered")
    # Every delivery queued by the completes is due by now: once the dispatcher has caught up,
    # a wrongly queued second one would have reached the receiver.
    dispatcher = app.state.background.dispatcher
    assert dispatcher is not None
    await wait_until_caught_up(dispatcher)
    assert receiver.count() == 1
    assert len(await list_deliveries(client, live_headers)) == 1


async def test_deliveries_are_partitioned_by_mode(
    client: httpx.AsyncClient,
    live_headers: dict[str, str],
    test_headers: dict[str, str],
    hooked_route: dict[str, Any],
    receiver: WebhookReceiver,
) -> None:
    live_file = await upload_file(client, live_headers, b"live")
    test_file = await upload_file(client, test_headers, b"test")
    await wait_until(lambda: receiver.count() == 2)
    [live] = await list_deliveries(client, live_headers)
    [test] = await list_deliveries(client, test_headers)
    assert live["fileId"] == live_file["id"] and test["fileId"] == test_file["id"]
    for headers, other in ((live_headers, test["id"]), (test_headers, live["id"])):
        for method, path in (
            ("GET", f"/api/v1/webhooks/deliveries/{other}"),
            ("POST", f"/api/v1/webhooks/deliveries/{other}/redeliver"),
            ("DELETE", f"/api/v1/webhooks/deliveries/{other}"),
        ):
            response = await client.request(method, path, headers=headers)
            assert response.status_code == 404, response.text
            assert response.json()["error"]["code"] == "NOT_FOUND"
    # Both modes share the project's signing keys.
    keys = await signing_keys(client, test_headers)
    for received in receiver.received:
        verify_both(received, keys, receiver.url)


async def test_list_paginates_and_delete_removes(
    client: httpx.AsyncClient,
    live_headers: dict[str, str],
    hooked_route: dict[str, Any],
    receiver: WebhookReceiver,
) -> None:
    files = [await upload_file(client, live_headers, bytes([n])) for n in range(5)]
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = await client.get("/api/v1/webhooks/deliveries", params=params, headers=live_headers)
        assert page.status_code == 200, page.text
        body = page.json()
        seen += [item["fileId"] for item in body["items"]]
        if not body["hasMore"]:
            assert body["nextCursor"] is None
            break
        cursor = body["nextCursor"]
    assert seen == [f["id"] for f in reversed(files)]  # newest first, each once

    for params in ({"limit": 0}, {"limit": 101}, {"cursor": "garbage!"}, {"status": "lost"}):
        bad = await client.get("/api/v1/webhooks/deliveries", params=params, headers=live_headers)
        assert bad.status_code == 400, bad.text
        assert bad.json()["error"]["code"] == "VALIDATION_ERROR"

    await wait_until(lambda: receiver.count() == 5)
    target = (await list_deliveries(client, live_headers))[0]["id"]
    await wait_for_status(client, live_headers, target, "delivered")
    deleted = await client.delete(f"/api/v1/webhooks/deliveries/{target}", headers=live_headers)
    assert deleted.status_code == 200 and deleted.json() == {"deleted": True}
    gone = await client.get(f"/api/v1/webhooks/deliveries/{target}", headers=live_headers)
    assert gone.status_code == 404
    assert target not in {d["id"] for d in await list_deliveries(client, live_headers)}
    assert len(await list_deliveries(client, live_headers)) == 4


async def test_webhook_endpoints_need_a_key(client: httpx.AsyncClient) -> None:
    for method, path in (
        ("GET", "/api/v1/webhooks/signing-keys"),
        ("POST", "/api/v1/webhooks/signing-keys/rotate"),
        ("GET", "/api/v1/webhooks/deliveries"),
    ):
        response = await client.request(method, path)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "UNAUTHORIZED"


async def test_payload_is_exactly_the_spec_shape(
    client: httpx.AsyncClient,
    live_headers: dict[str, str],
    hooked_route: dict[str, Any],
    receiver: WebhookReceiver,
) -> None:
    file = await upload_file(client, live_headers, b"shape", metadata={"a": 1})
    await wait_until(lambda: receiver.count() == 1)
    body = json.loads(receiver.received[0].body)
    assert list(body) == ["event", "file", "metadata"]
    assert set(body["file"]) == FILE_FIELDS
    assert body["file"] == file


async def test_only_a_capped_excerpt_of_the_answer_is_read_and_kept(
    client: httpx.AsyncClient,
    live_headers: dict[str, str],
    hooked_route: dict[str, Any],
    receiver: WebhookReceiver,
) -> None:
    receiver.reply_body = b"ok:" + b"x" * 5_000_000  # far more than anyone should read
    await upload_file(client, live_headers, b"x")
    [listed] = await list_deliveries(client, live_headers)
    detail = await wait_for_status(client, live_headers, listed["id"], "delivered")
    [attempt] = detail["attempts"]
    assert attempt["statusCode"] == 200
    assert attempt["responseExcerpt"] == ("ok:" + "x" * 5_000_000)[:1024]
