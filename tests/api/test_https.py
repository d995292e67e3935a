"""The HTTPS rule: plain HTTP refused unless from loopback (auto), a trusted HTTPS proxy, or off."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from tests.api.test_errors import assert_envelope
from uploadkit_server.core.accounts.service import NewAccount

REMOTE = ("203.0.113.7", 40000)
PROXY = ("10.1.2.3", 40000)


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"trusted_proxies": "10.0.0.0/8"}


def client_from(
    app: FastAPI, address: tuple[str, int], base: str = "http://testserver"
) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=address), base_url=base)


@pytest.fixture
async def remote(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_from(app, REMOTE) as client:
        yield client


async def test_plain_http_from_remote_is_refused(
    remote: httpx.AsyncClient, account: NewAccount, live_headers: dict[str, str]
) -> None:
    response = await remote.get(
        f"/api/v1/projects/{account.project.id}/routers", headers=live_headers
    )
    error = assert_envelope(response, 403, "HTTPS_REQUIRED")
    assert "HTTPS" in error["message"]


async def test_https_from_remote_is_served(
    app: FastAPI, account: NewAccount, live_headers: dict[str, str]
) -> None:
    async with client_from(app, REMOTE, base="https://testserver") as client:
        response = await client.get(
            f"/api/v1/projects/{account.project.id}/routers", headers=live_headers
        )
    assert response.status_code == 200


async def test_trusted_proxy_forwarding_https_counts(
    app: FastAPI, account: NewAccount, live_headers: dict[str, str]
) -> None:
    url = f"/api/v1/projects/{account.project.id}/routers"
    async with client_from(app, PROXY) as proxy:
        ok = await proxy.get(url, headers=live_headers | {"x-forwarded-proto": "https"})
        refused = await proxy.get(url, headers=live_headers | {"x-forwarded-proto": "http"})
    assert ok.status_code == 200
    assert_envelope(refused, 403, "HTTPS_REQUIRED")
    async with client_from(app, REMOTE) as untrusted:
        spoofed = await untrusted.get(url, headers=live_headers | {"x-forwarded-proto": "https"})
    assert_envelope(spoofed, 403, "HTTPS_REQUIRED")


class TestRuleOff:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, object]:
        return {"require_https": "false"}

    async def test_plain_http_allowed(
        self, remote: httpx.AsyncClient, account: NewAccount, live_headers: dict[str, str]
    ) -> None:
        response = await remote.get(
            f"/api/v1/projects/{account.project.id}/routers", headers=live_headers
        )
        assert response.status_code == 200


class TestRuleStrict:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, object]:
        return {"require_https": "true"}

    async def test_even_loopback_is_refused(
        self, client: httpx.AsyncClient, live_headers: dict[str, str]
    ) -> None:
        assert_envelope(
            await client.get("/api/v1/upload/multipart/parts", headers=live_headers),
            403,
            "HTTPS_REQUIRED",
        )
