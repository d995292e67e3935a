"""The in-process dispatcher's finished attempts are counted by result."""

from __future__ import annotations

import httpx

from tests.core.webhooks.helpers import wait_for_status
from tests.support.fixtures import with_settings
from tests.support.metrics import sample
from tests.support.uploads import create_route, upload_file
from tests.support.webhook_receiver import running_receiver, wait_until
from uploadkit_server.core.accounts.service import NewAccount

settings_overrides = with_settings(webhook_allow_private=True, webhook_poll_interval=0.05)


async def test_a_delivered_attempt_is_counted(
    client: httpx.AsyncClient, account: NewAccount, live_headers: dict[str, str]
) -> None:
    with running_receiver() as receiver:
        await create_route(client, live_headers, account.project.id, webhookUrl=receiver.url)
        await upload_file(client, live_headers, b"\xff\xd8\xff\xe0 bytes")
        await wait_until(lambda: receiver.count() == 1)
        deliveries = (await client.get("/api/v1/webhooks/deliveries", headers=live_headers)).json()
        await wait_for_status(client, live_headers, deliveries["items"][0]["id"], "delivered")
    # Counted right after the attempt's transaction commits: the status may be seen first.
    for _ in range(100):
        text = (await client.get("/metrics")).text
        if sample(text, "uploadkit_webhook_attempts_total", result="delivered"):
            break
    assert sample(text, "uploadkit_webhook_attempts_total", result="delivered") == 1
    assert sample(text, "uploadkit_webhook_queue_depth") == 0
