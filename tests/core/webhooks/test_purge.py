"""Test-mode deliveries are purged with the sandbox after ``TEST_MODE_TTL``; finished ones of
either mode after ``WEBHOOK_RETENTION``; pending and failed ones stay."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from tests.core.webhooks.helpers import list_deliveries
from tests.core.webhooks.queueing import queue_deliveries
from uploadkit_server.clock import utcnow
from uploadkit_server.db.models import DeliveryStatus, WebhookAttempt, WebhookDelivery
from uploadkit_server.jobs.webhook_purge import (
    purge_expired_deliveries,
    purge_test_mode_deliveries,
)
from uploadkit_server.runtime import Runtime


@pytest.fixture
def settings_overrides(settings_overrides: dict[str, object]) -> dict[str, object]:
    # No dispatcher: the statuses these tests set must not change under them.
    return {**settings_overrides, "webhook_dispatcher": False}


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


async def test_finished_deliveries_past_retention_are_purged_with_their_attempts(
    client: httpx.AsyncClient,
    live_headers: dict[str, str],
    runtime: Runtime,
    account: Any,
    receiver: Any,
) -> None:
    ids = await queue_deliveries(
        runtime.sessionmaker,
        project_id=account.project.id,
        account_id=account.account.id,
        url=receiver.url,
        count=4,
    )
    statuses = dict(
        zip(
            ids,
            (
                DeliveryStatus.DELIVERED,
                DeliveryStatus.DEAD,
                DeliveryStatus.FAILED,
                DeliveryStatus.PENDING,
            ),
            strict=True,
        )
    )
    pks: dict[str, int] = {}
    async with runtime.sessionmaker() as session, session.begin():
        for delivery_id, status in statuses.items():
            await session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id == delivery_id)
                .values(status=status)
            )
            pk = await session.scalar(
                select(WebhookDelivery.pk).where(WebhookDelivery.id == delivery_id)
            )
            assert pk is not None
            pks[delivery_id] = pk
            session.add(WebhookAttempt(delivery_pk=pk, status_code=500, duration_ms=1))

    later = utcnow() + timedelta(seconds=runtime.settings.webhook_retention + 1)
    assert await purge_expired_deliveries(runtime) == 0  # not old yet
    kept_forever = runtime.settings
    runtime.settings = kept_forever.model_copy(update={"webhook_retention": 0})
    try:
        assert await purge_expired_deliveries(runtime, now=later) == 0  # 0 keeps them
    finally:
        runtime.settings = kept_forever

    assert await purge_expired_deliveries(runtime, now=later) == 2
    left = {d["id"]: d["status"] for d in await list_deliveries(client, live_headers)}
    assert set(left) == {ids[2], ids[3]}
    async with runtime.sessionmaker() as session:
        attempts = await session.scalars(
            select(WebhookAttempt.delivery_pk).where(WebhookAttempt.delivery_pk.in_(pks.values()))
        )
        with_attempts = set(attempts)
    # The purged deliveries' attempts went with them; the kept ones keep theirs.
    assert with_attempts == {pks[ids[2]], pks[ids[3]]}
