"""Test-mode deliveries are purged with the sandbox after ``TEST_MODE_TTL``; live ones stay."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from tests.webhooks.helpers import list_deliveries
from tests.webhooks.queueing import queue_deliveries
from uploadkit_server.clock import utcnow
from uploadkit_server.jobs.webhook_purge import purge_test_mode_deliveries
from uploadkit_server.runtime import Runtime


async def test_old_test_mode_deliveries_are_purged_live_ones_kept(
    client: httpx.AsyncClient,
    live_headers: dict[str, str],
    test_headers: dict[str, str],
    runtime: Runtime,
    account: Any,
    receiver: Any,
) -> None:
    for is_test in (True, False):
        await queue_deliveries(
            runtime.sessionmaker,
            project_id=account.project.id,
            account_id=account.account.id,
            url=receiver.url,
            count=3,
            is_test=is_test,
        )
    assert await purge_test_mode_deliveries(runtime) == 0  # not old yet
    assert len(await list_deliveries(client, test_headers)) == 3

    later = utcnow() + timedelta(seconds=runtime.settings.test_mode_ttl + 1)
    assert await purge_test_mode_deliveries(runtime, now=later) == 3
    assert await list_deliveries(client, test_headers) == []
    assert len(await list_deliveries(client, live_headers)) == 3
