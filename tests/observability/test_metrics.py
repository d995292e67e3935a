"""``GET /metrics``: Prometheus text with the server's metrics, guarded by the metrics setting."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import make_account
from tests.support.api import assert_error
from tests.support.metrics import sample
from tests.support.uploads import create_route, upload_file
from uploadkit_server.core.accounts.service import NewAccount
from uploadkit_server.db.models import Account, Tier
from uploadkit_server.runtime import Runtime


async def test_counts_requests_uploads_bytes_and_the_webhook_queue(
    client: httpx.AsyncClient, account: NewAccount, live_headers: dict[str, str]
) -> None:
    await create_route(
        client, live_headers, account.project.id, webhookUrl="https://hooks.example.com/in"
    )
    data = b"\xff\xd8\xff\xe0" + b"x" * 996
    await upload_file(client, live_headers, data)
    missing = await client.post(
        "/api/v1/upload/complete", json={"fileId": "file_nope"}, headers=live_headers
    )
    assert missing.status_code == 404

    scrape = await client.get("/metrics")
    assert scrape.status_code == 200
    assert scrape.headers["content-type"].startswith("text/plain")
    text = scrape.text
    assert (
        sample(
            text,
            "uploadkit_http_requests_total",
            method="POST",
            route="/api/v1/upload/request",
            status="200",
        )
        == 1
    )
    assert (
        sample(
            text,
            "uploadkit_http_request_duration_seconds_count",
            method="POST",
            route="/api/v1/upload/request",
            status="200",
        )
        == 1
    )
    assert sample(text, "uploadkit_uploads_total", outcome="uploaded") == 1
    assert sample(text, "uploadkit_uploads_total", outcome="error") == 1
    assert sample(
        text, "uploadkit_http_received_bytes_total", route="/storage/objects/{key}"
    ) == len(data)
    # The completed upload queued its webhook; no dispatcher runs in these tests.
    assert sample(text, "uploadkit_webhook_queue_depth") == 1
    assert sample(text, "uploadkit_webhook_oldest_due_seconds") >= 0


async def test_a_cdn_download_counts_the_bytes_served(
    client: httpx.AsyncClient, account: NewAccount, live_headers: dict[str, str]
) -> None:
    await create_route(client, live_headers, account.project.id)
    file = await upload_file(client, live_headers, b"\xff\xd8\xff\xe0" + b"y" * 2044)
    assert (await client.get(file["url"])).status_code == 200
    text = (await client.get("/metrics")).text
    assert sample(text, "uploadkit_http_sent_bytes_total", route="/cdn/{key}") == 2048


async def test_not_served_to_other_addresses(app: FastAPI) -> None:
    transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 4000))
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as remote:
        assert_error(await remote.get("/metrics"), 403, "FORBIDDEN")


class TestWithAToken:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, object]:
        return {"metrics_token": "scrape-secret"}

    async def test_the_token_is_needed_from_anywhere(self, app: FastAPI) -> None:
        transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 4000))
        async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as remote:
            assert_error(await remote.get("/metrics"), 401, "UNAUTHORIZED")
            wrong = await remote.get("/metrics", headers={"Authorization": "Bearer nope"})
            assert_error(wrong, 401, "UNAUTHORIZED")
            right = await remote.get("/metrics", headers={"Authorization": "Bearer scrape-secret"})
        assert right.status_code == 200 and "uploadkit_http_requests_total" in right.text


async def test_a_429_is_counted(client: httpx.AsyncClient, runtime: Runtime) -> None:
    new = await make_account(runtime, email="limited@example.com", tier=Tier.ENTERPRISE)
    async with runtime.sessionmaker() as session, session.begin():
        account = await session.get(Account, new.account.id)
        assert account is not None
        account.rate_limit = 1
    headers = {"x-api-key": new.live_key}
    statuses = [(await client.get("/api/v1/usage", headers=headers)).status_code for _ in range(3)]
    assert 429 in statuses
    text = (await client.get("/metrics")).text
    assert sample(text, "uploadkit_rate_limited_total", route="/api/v1/usage") == statuses.count(
        429
    )
