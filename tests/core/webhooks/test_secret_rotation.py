"""Rotating the ``whsec_`` secret: during the grace period every delivery carries a signature for
the new and for the old secret (space-separated ``v1,`` entries), so the unmodified
``standardwebhooks`` library verifies with either; after it, only the new secret verifies."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from tests.core.webhooks.queueing import queue_deliveries
from tests.support.uploads import upload_file
from tests.support.webhook_receiver import WebhookReceiver
from uploadkit_server.clock import utcnow
from uploadkit_server.core.webhooks import repository
from uploadkit_server.runtime import Runtime
from uploadkit_server.security import generate_webhook_secret

ROTATE = "/api/v1/webhooks/signing-keys/rotate-secret"


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"webhook_allow_private": True, "webhook_dispatcher": False}  # the tests dispatch


async def signing_keys(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    response = await client.get("/api/v1/webhooks/signing-keys", headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def test_both_secrets_verify_during_the_grace_period(
    client: httpx.AsyncClient,
    live_headers: dict[str, str],
    hooked_route: dict[str, Any],
    receiver: WebhookReceiver,
    make_dispatcher: Any,
) -> None:
    before = await signing_keys(client, live_headers)
    assert before["previousSecret"] is None and before["previousSecretExpiresAt"] is None

    rotated = await client.post(ROTATE, headers=live_headers, json={"gracePeriodSeconds": 3600})
    assert rotated.status_code == 200, rotated.text
    after = rotated.json()
    assert after["secret"].startswith("whsec_") and after["secret"] != before["secret"]
    assert after["previousSecret"] == before["secret"]
    expires = parse_time(after["previousSecretExpiresAt"])
    assert timedelta(minutes=59) < expires - utcnow() <= timedelta(hours=1)
    # The Upstash signing keys are untouched by a secret rotation.
    assert (after["currentSigningKey"], after["nextSigningKey"]) == (
        before["currentSigningKey"],
        before["nextSigningKey"],
    )
    assert await signing_keys(client, live_headers) == after

    await upload_file(client, live_headers, b"during the grace period")
    assert await make_dispatcher().dispatch_due() == 1
    received = receiver.received[0]
    signatures = received.headers["webhook-signature"].split(" ")
    assert len(signatures) == 2 and all(s.startswith("v1,") for s in signatures)
    for secret in (before["secret"], after["secret"]):  # a receiver holding either verifies
        assert Webhook(secret).verify(received.body, received.headers)["event"] == (
            "onUploadComplete"
        )
    with pytest.raises(WebhookVerificationError):
        Webhook(generate_webhook_secret()).verify(received.body, received.headers)


async def test_after_the_grace_period_only_the_new_secret_verifies(
    client: httpx.AsyncClient,
    live_headers: dict[str, str],
    hooked_route: dict[str, Any],
    receiver: WebhookReceiver,
    make_dispatcher: Any,
) -> None:
    before = await signing_keys(client, live_headers)
    rotated = await client.post(ROTATE, headers=live_headers, json={"gracePeriodSeconds": 0})
    assert rotated.status_code == 200, rotated.text
    after = rotated.json()
    assert after["previousSecret"] is None  # the grace period is already over

    await upload_file(client, live_headers, b"after the grace period")
    assert await make_dispatcher().dispatch_due() == 1
    received = receiver.received[0]
    assert " " not in received.headers["webhook-signature"]
    Webhook(after["secret"]).verify(received.body, received.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(before["secret"]).verify(received.body, received.headers)


async def test_the_old_secret_stops_signing_when_its_grace_ends(
    client: httpx.AsyncClient, live_headers: dict[str, str], runtime: Runtime, account: Any
) -> None:
    """Claims decide which secrets sign: the old one until the end of the grace, not after."""
    old = (await signing_keys(client, live_headers))["secret"]
    rotated = await client.post(ROTATE, headers=live_headers, json={"gracePeriodSeconds": 600})
    new = rotated.json()["secret"]
    await queue_deliveries(
        runtime.sessionmaker,
        project_id=account.project.id,
        account_id=account.account.id,
        url="http://127.0.0.1:9/unused",
        count=2,
    )
    in_grace = utcnow() + timedelta(seconds=590)
    after_grace = utcnow() + timedelta(seconds=610)
    async with runtime.sessionmaker() as session, session.begin():
        [during] = await repository.claim_due(
            session, now=in_grace, lease=in_grace + timedelta(seconds=1), limit=1
        )
    async with runtime.sessionmaker() as session, session.begin():
        [later] = await repository.claim_due(
            session, now=after_grace, lease=after_grace + timedelta(seconds=1), limit=1
        )
    assert during.secrets == (new, old)
    assert later.secrets == (new,)


async def test_rotating_again_retires_the_oldest_secret(
    client: httpx.AsyncClient, live_headers: dict[str, str]
) -> None:
    first = (await signing_keys(client, live_headers))["secret"]
    second = (await client.post(ROTATE, headers=live_headers)).json()
    third = (await client.post(ROTATE, headers=live_headers)).json()
    assert second["previousSecret"] == first
    assert third["previousSecret"] == second["secret"]
    assert len({first, second["secret"], third["secret"]}) == 3
    # No body: the default grace period of one day.
    expires = parse_time(third["previousSecretExpiresAt"])
    assert timedelta(hours=23, minutes=59) < expires - utcnow() <= timedelta(days=1)


@pytest.mark.parametrize("grace", [-1, 30 * 86400 + 1, "soon"])
async def test_a_bad_grace_period_is_refused_and_nothing_rotates(
    client: httpx.AsyncClient, live_headers: dict[str, str], grace: object
) -> None:
    before = await signing_keys(client, live_headers)
    response = await client.post(ROTATE, headers=live_headers, json={"gracePeriodSeconds": grace})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR" and error["message"]
    assert await signing_keys(client, live_headers) == before


async def test_secret_rotation_needs_a_key(client: httpx.AsyncClient) -> None:
    response = await client.post(ROTATE)
    assert response.status_code == 401
