"""Webhook tests talk to a real HTTP receiver on 127.0.0.1, so private targets are allowed here
(the SSRF guard itself is tested with it switched on) and retries are immediate."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.support.uploads import create_route
from tests.support.webhook_receiver import WebhookReceiver
from uploadkit_server.core.webhooks.dispatcher import WebhookDispatcher
from uploadkit_server.core.webhooks.repository import AttemptRecord, ClaimedDelivery
from uploadkit_server.db.session import create_engine, create_sessionmaker
from uploadkit_server.runtime import Runtime
from uploadkit_server.settings import Settings


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {
        "webhook_allow_private": True,
        "webhook_retry_delays": [0, 0],
        "webhook_timeout": 2.0,
        "webhook_poll_interval": 0.05,
    }


@pytest.fixture
async def hooked_route(
    client: httpx.AsyncClient, live_headers: dict[str, str], account: Any, receiver: WebhookReceiver
) -> dict[str, Any]:
    """A file route ``files`` whose webhookUrl is the receiver."""
    return await create_route(
        client, live_headers, account.project.id, slug="files", webhookUrl=receiver.url
    )


class CountingDispatcher(WebhookDispatcher):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sent: list[str] = []

    async def send(self, claimed: ClaimedDelivery) -> AttemptRecord:
        self.sent.append(claimed.id)
        return await super().send(claimed)


@pytest.fixture
async def make_dispatcher(settings: Settings, runtime: Runtime) -> AsyncIterator[Any]:
    """Dispatchers with their own engine each, closed after the test; commits through
    ``runtime.sessionmaker`` wake them, as they wake the runtime's own dispatcher."""
    made: list[tuple[WebhookDispatcher, Any]] = []

    def make(**overrides: Any) -> CountingDispatcher:
        engine = create_engine(settings.effective_database_url)
        dispatcher = CountingDispatcher(
            settings=settings.model_copy(update=overrides),
            sessionmaker=create_sessionmaker(engine),
            wakeup=runtime.delivery_wakeup,
        )
        made.append((dispatcher, engine))
        return dispatcher

    yield make
    for dispatcher, engine in made:
        await dispatcher.stop()
        await engine.dispose()
