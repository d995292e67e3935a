"""Several dispatchers on one database (each with its own engine, as separate processes have):
a claimed row is leased, so no attempt is sent twice; a lapsed lease makes the row due again;
a commit in this process wakes the dispatcher without waiting for a poll."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from tests.core.webhooks.helpers import delivery_detail, wait_until_caught_up
from tests.core.webhooks.queueing import queue_deliveries
from tests.support.webhook_receiver import WebhookReceiver, wait_until
from uploadkit_server.clock import utcnow
from uploadkit_server.db.models import DeliveryStatus, WebhookAttempt, WebhookDelivery
from uploadkit_server.runtime import Runtime


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {
        "webhook_allow_private": True,
        "webhook_dispatcher": False,  # the tests run their own
        "webhook_retry_delays": [0, 0],
        "webhook_poll_interval": 0.02,
        "webhook_concurrency": 4,
    }


async def delivery_states(runtime: Runtime) -> tuple[Counter[str], Counter[int]]:
    async with runtime.sessionmaker() as session:
        statuses = Counter((await session.scalars(select(WebhookDelivery.status))).all())
        per_delivery = (
            await session.execute(
                select(WebhookAttempt.delivery_pk, func.count()).group_by(
                    WebhookAttempt.delivery_pk
                )
            )
        ).all()
    return statuses, Counter(count for _pk, count in per_delivery)


async def wait_until_recorded(runtime: Runtime, count: int) -> None:
    """Every one of ``count`` deliveries delivered, its attempt written."""
    deadline = time.monotonic() + 30
    while (await delivery_states(runtime))[0] != Counter({DeliveryStatus.DELIVERED: count}):
        assert time.monotonic() < deadline, "not every delivery was recorded as delivered"
        await asyncio.sleep(0.02)


async def test_two_dispatchers_never_send_the_same_attempt_twice(
    runtime: Runtime, account: Any, receiver: WebhookReceiver, make_dispatcher: Any
) -> None:
    receiver.delay = 0.005
    ids = await queue_deliveries(
        runtime.sessionmaker,
        project_id=account.project.id,
        account_id=account.account.id,
        url=receiver.url,
        count=80,
    )
    first, second = make_dispatcher(), make_dispatcher()
    first.start()
    second.start()
    await wait_until(lambda: receiver.count() >= len(ids))

    # Both have caught up: a second send of any delivery would have happened by now.
    await wait_until_caught_up(first, second)
    await wait_until_recorded(runtime, len(ids))
    await first.stop()
    await second.stop()

    received = Counter(r.headers["webhook-id"] for r in receiver.received)
    assert received == Counter(dict.fromkeys(ids, 1))  # every delivery once, none twice
    assert sorted(first.sent + second.sent) == sorted(ids)
    statuses, attempts_per_delivery = await delivery_states(runtime)
    assert statuses == Counter({DeliveryStatus.DELIVERED: len(ids)})
    assert attempts_per_delivery == Counter({1: len(ids)})


async def test_a_leased_row_is_skipped_until_the_lease_lapses(
    runtime: Runtime, account: Any, receiver: WebhookReceiver, make_dispatcher: Any
) -> None:
    ids = await queue_deliveries(
        runtime.sessionmaker,
        project_id=account.project.id,
        account_id=account.account.id,
        url=receiver.url,
        count=3,
    )
    crashed, survivor = make_dispatcher(), make_dispatcher()
    claimed = await crashed.claim(10)  # and then it dies, holding the rows
    assert sorted(c.id for c in claimed) == sorted(ids)
    assert await survivor.claim(10) == []  # leased: nobody else may send them

    # Time passes until the lease has run out (the database is told, not waited for).
    async with runtime.sessionmaker() as session, session.begin():
        await session.execute(
            update(WebhookDelivery).values(locked_until=utcnow() - timedelta(seconds=1))
        )
    assert await survivor.dispatch_due() == 3
    assert sorted(r.headers["webhook-id"] for r in receiver.received) == sorted(ids)

    # A dispatcher that lost its lease cannot change the survivor's result; what it sent is
    # still recorded, as history.
    receiver.statuses = [500]
    await crashed.deliver(claimed[0])
    statuses, attempts_per_delivery = await delivery_states(runtime)
    assert statuses == Counter({DeliveryStatus.DELIVERED: 3})
    assert attempts_per_delivery == Counter({1: 2, 2: 1})


async def test_a_commit_in_this_process_wakes_the_dispatcher(
    runtime: Runtime, account: Any, receiver: WebhookReceiver, make_dispatcher: Any
) -> None:
    sleepy = make_dispatcher(webhook_poll_interval=3600.0)  # would not poll again in this test
    sleepy.start()
    await wait_until(lambda: sleepy.idle_claims >= 1)  # it has looked once and found nothing
    await queue_deliveries(
        runtime.sessionmaker,
        project_id=account.project.id,
        account_id=account.account.id,
        url=receiver.url,
        count=1,
    )
    await wait_until(lambda: receiver.count() == 1, deadline_seconds=10)


async def test_redelivery_during_an_attempt_starts_a_new_run(
    client: httpx.AsyncClient,
    live_headers: dict[str, str],
    runtime: Runtime,
    account: Any,
    receiver: WebhookReceiver,
    make_dispatcher: Any,
) -> None:
    [delivery_id] = await queue_deliveries(
        runtime.sessionmaker,
        project_id=account.project.id,
        account_id=account.account.id,
        url=receiver.url,
        count=1,
    )
    dispatcher = make_dispatcher()
    [in_flight] = await dispatcher.claim(1)
    receiver.statuses = [500]  # the attempt in flight fails...
    redelivered = await client.post(
        f"/api/v1/webhooks/deliveries/{delivery_id}/redeliver", headers=live_headers
    )
    assert redelivered.status_code == 200
    await dispatcher.deliver(in_flight)  # ...after the redelivery: history only
    detail = await delivery_detail(client, live_headers, delivery_id)
    assert detail["status"] == "pending"
    assert [a["statusCode"] for a in detail["attempts"]] == [500]

    assert await dispatcher.dispatch_due() == 1  # the new run
    detail = await delivery_detail(client, live_headers, delivery_id)
    assert detail["status"] == "delivered"
    assert [a["statusCode"] for a in detail["attempts"]] == [500, 200]


async def test_stopping_mid_attempt_hands_the_row_back(
    runtime: Runtime, account: Any, receiver: WebhookReceiver, make_dispatcher: Any
) -> None:
    receiver.delay = 5  # the attempt is in flight when the dispatcher stops
    await queue_deliveries(
        runtime.sessionmaker,
        project_id=account.project.id,
        account_id=account.account.id,
        url=receiver.url,
        count=1,
    )
    stopping = make_dispatcher()
    stopping.start()
    await wait_until(lambda: receiver.count() == 1)
    await stopping.stop()
    async with runtime.sessionmaker() as session:
        delivery = (await session.scalars(select(WebhookDelivery))).one()
    assert delivery.status == DeliveryStatus.PENDING and delivery.locked_until is None

    receiver.delay = 0
    assert await make_dispatcher().dispatch_due() == 1  # due at once, not after the lease
