"""Real processes: a server killed with SIGKILL while deliveries are queued and in flight delivers
them all after restart; ``uploadkit worker`` dispatches without HTTP and stops on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.core.webhooks.queueing import queue_deliveries
from tests.support.live_server import start_server
from tests.support.webhook_receiver import WebhookReceiver, wait_until
from uploadkit_server.core.accounts.service import NewAccount, create_account
from uploadkit_server.db.migrate import migrate
from uploadkit_server.db.models import DeliveryStatus, Tier, WebhookDelivery
from uploadkit_server.db.session import create_engine, create_sessionmaker
from uploadkit_server.settings import Settings

pytestmark = pytest.mark.slow

WEBHOOK_TIMEOUT = 2  # seconds; a lease lasts this plus a 5 s margin


@pytest.fixture
async def sessionmaker(settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """The test's own connection to the database the processes share (no in-process app)."""
    engine = create_engine(settings.effective_database_url)
    await migrate(engine)
    yield create_sessionmaker(engine)
    await engine.dispose()


@pytest.fixture
async def owner(sessionmaker: async_sessionmaker[AsyncSession]) -> NewAccount:
    async with sessionmaker() as session, session.begin():
        return await create_account(session, email="owner@example.com", tier=Tier.PRO)


def process_env(database_url: str) -> dict[str, str]:
    return {
        "UPLOADKIT_DATABASE_URL": database_url,
        "UPLOADKIT_WEBHOOK_ALLOW_PRIVATE": "true",
        "UPLOADKIT_WEBHOOK_TIMEOUT": str(WEBHOOK_TIMEOUT),
        "UPLOADKIT_WEBHOOK_RETRY_DELAYS": "0,0,0,0,0",
        "UPLOADKIT_WEBHOOK_POLL_INTERVAL": "0.1",
    }


async def statuses(sessionmaker: async_sessionmaker[AsyncSession]) -> dict[str, str]:
    async with sessionmaker() as session:
        rows = await session.execute(select(WebhookDelivery.id, WebhookDelivery.status))
        return {row.id: row.status for row in rows}


async def wait_all_delivered(
    sessionmaker: async_sessionmaker[AsyncSession], ids: list[str], *, deadline_seconds: float
) -> None:
    deadline = time.monotonic() + deadline_seconds
    while True:
        current = await statuses(sessionmaker)
        if all(current.get(i) == DeliveryStatus.DELIVERED for i in ids):
            return
        assert time.monotonic() < deadline, f"not all delivered: {current}"
        await asyncio.sleep(0.1)


async def test_sigkill_mid_queue_loses_no_delivery(
    database_url: str,
    tmp_path: Path,
    sessionmaker: async_sessionmaker[AsyncSession],
    owner: NewAccount,
    receiver: WebhookReceiver,
) -> None:
    receiver.delay = 30  # the receiver hangs: deliveries are in flight when the server dies
    env = process_env(database_url)
    server = start_server(env, data_dir=tmp_path / "server")
    try:
        ids = await queue_deliveries(
            sessionmaker,
            project_id=owner.project.id,
            account_id=owner.account.id,
            url=receiver.url,
            count=24,  # more than one dispatcher claims at once (16): some stay queued
        )
        await wait_until(lambda: receiver.count() >= 1)
        server.kill()
    finally:
        server.stop()
    before_restart = await statuses(sessionmaker)
    assert any(status != DeliveryStatus.DELIVERED for status in before_restart.values())

    receiver.delay = 0
    restarted = start_server(env, data_dir=tmp_path / "server")
    try:
        # Rows leased by the killed process come back when their lease lapses (timeout + 5 s).
        await wait_all_delivered(sessionmaker, ids, deadline_seconds=60)
    finally:
        restarted.stop()
    assert set(ids) <= {r.headers["webhook-id"] for r in receiver.received}


def start_worker(env: dict[str, str], data_dir: Path) -> subprocess.Popen[bytes]:
    data_dir.mkdir(parents=True, exist_ok=True)
    log = (data_dir / "worker.log").open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "uploadkit_server", "worker"],
        env={
            **os.environ,
            "UPLOADKIT_DATA_DIR": str(data_dir),
            "UPLOADKIT_SECRET_KEY": "worker-test-secret",
            **env,
        },
        stdout=log,
        stderr=subprocess.STDOUT,
    )


async def test_worker_process_dispatches_and_stops_on_sigterm(
    database_url: str,
    tmp_path: Path,
    sessionmaker: async_sessionmaker[AsyncSession],
    owner: NewAccount,
    receiver: WebhookReceiver,
) -> None:
    worker = start_worker(process_env(database_url), tmp_path / "worker")
    try:
        ids = await queue_deliveries(
            sessionmaker,
            project_id=owner.project.id,
            account_id=owner.account.id,
            url=receiver.url,
            count=5,
        )
        await wait_all_delivered(sessionmaker, ids, deadline_seconds=60)
        assert sorted(r.headers["webhook-id"] for r in receiver.received) == sorted(ids)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(15) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(10)
