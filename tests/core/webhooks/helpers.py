"""Reading deliveries through the API, waiting for a delivery to reach a state, and waiting for
dispatchers to have sent everything due."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from tests.support.webhook_receiver import wait_until
from uploadkit_server.core.webhooks.dispatcher import WebhookDispatcher


async def list_deliveries(
    client: httpx.AsyncClient, headers: dict[str, str], **params: Any
) -> list[dict[str, Any]]:
    response = await client.get("/api/v1/webhooks/deliveries", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def delivery_detail(
    client: httpx.AsyncClient, headers: dict[str, str], delivery_id: str
) -> dict[str, Any]:
    response = await client.get(f"/api/v1/webhooks/deliveries/{delivery_id}", headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def wait_for_status(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    delivery_id: str,
    status: str,
    *,
    attempts: int | None = None,
    deadline_seconds: float = 30.0,
) -> dict[str, Any]:
    """Poll the delivery until it has ``status`` (and that many attempts, if given)."""
    deadline = time.monotonic() + deadline_seconds
    while True:
        latest = await delivery_detail(client, headers, delivery_id)
        if latest["status"] == status and (attempts is None or len(latest["attempts"]) == attempts):
            return latest
        assert time.monotonic() < deadline, f"delivery did not become {status}: {latest}"
        await asyncio.sleep(0.05)


async def wait_until_caught_up(*dispatchers: WebhookDispatcher) -> None:
    """Wait until each running dispatcher has twice claimed nothing with nothing in flight. The
    second such claim began after this call, so every delivery due by then has been sent: the
    anchor for a check that nothing more is sent."""
    targets = [(dispatcher, dispatcher.idle_claims + 2) for dispatcher in dispatchers]
    await wait_until(lambda: all(d.idle_claims >= target for d, target in targets))
