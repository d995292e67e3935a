"""The HTTPS rule: plain HTTP refused unless from loopback (auto), a trusted HTTPS proxy, or off."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from tests.support.api import assert_error
from tests.support.fixtures import with_settings
from uploadkit_server.core.accounts.service import NewAccount

REMOTE = ("203.0.113.7", 40000)
PROXY = ("10.1.2.3", 40000)


settings_overrides = with_settings(trusted_proxies="10.0.0.0/8")


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
    error = assert_error(response, 403, "HTTPS_REQUIRED")
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
    assert_error(refused, 403, "HTTPS_REQUIRED")
    async with client_from(app, REMOTE) as untrusted:
        spoofed = await untrusted.get(url, headers=live_headers | {"x-forwarded-proto": "https"})
    assert_error(spoofed, 403, "HTTPS_REQUIRED")


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
        assert_error(
            await client.get("/api/v1/upload/multipart/parts", headers=live_headers),
            403,
            "HTTPS_REQUIRED",
        )


async def routers_from(
    app: FastAPI,
    address: tuple[str, int],
    account: NewAccount,
    live_headers: dict[str, str],
    **headers: str,
) -> httpx.Response:
    async with client_from(app, address) as client:
        return await client.get(
            f"/api/v1/projects/{account.project.id}/routers",
            headers=live_headers | {k.replace("_", "-"): v for k, v in headers.items()},
        )


async def test_the_nearest_trusted_proxys_value_decides(
    app: FastAPI, account: NewAccount, live_headers: dict[str, str]
) -> None:
    # A proxy that appends: the client's own "https" comes first and must not count.
    appended = await routers_from(
        app, PROXY, account, live_headers, x_forwarded_proto="https, http"
    )
    assert_error(appended, 403, "HTTPS_REQUIRED")
    repeated = await routers_from(app, PROXY, account, live_headers, x_forwarded_proto="https,http")
    assert_error(repeated, 403, "HTTPS_REQUIRED")
    last_https = await routers_from(
        app, PROXY, account, live_headers, x_forwarded_proto="http, https"
    )
    assert last_https.status_code == 200


async def test_a_chain_of_trusted_proxies_uses_the_outermost_trusted_value(
    app: FastAPI, account: NewAccount, live_headers: dict[str, str]
) -> None:
    # client -> edge proxy 10.9.9.9 (TLS, says https) -> inner proxy 10.1.2.3 (says http) -> us
    chained = await routers_from(
        app,
        PROXY,
        account,
        live_headers,
        x_forwarded_for="203.0.113.7, 10.9.9.9",
        x_forwarded_proto="https, http",
    )
    assert chained.status_code == 200
    # The hop before the inner proxy is a client, not a proxy: its claim is not believed, even
    # when it forges trusted-looking hops further left.
    forged = await routers_from(
        app,
        PROXY,
        account,
        live_headers,
        x_forwarded_for="10.9.9.9, 203.0.113.7",
        x_forwarded_proto="https, http",
    )
    assert_error(forged, 403, "HTTPS_REQUIRED")


async def test_loopback_peer_forwarding_for_others_is_a_proxy_not_a_local_client(
    app: FastAPI, account: NewAccount, live_headers: dict[str, str]
) -> None:
    local = ("127.0.0.1", 50000)
    # The same-host reverse proxy of the deployment guide, not listed as trusted.
    for header in ("x_forwarded_for", "x_forwarded_proto", "x_real_ip", "forwarded"):
        value = {"x_forwarded_proto": "https", "forwarded": "for=203.0.113.7"}.get(
            header, "203.0.113.7"
        )
        response = await routers_from(app, local, account, live_headers, **{header: value})
        error = assert_error(response, 403, "HTTPS_REQUIRED")
        assert "UPLOADKIT_TRUSTED_PROXIES" in str(error["suggestion"])
    # A local developer (no forwarding headers) is still exempt.
    assert (await routers_from(app, local, account, live_headers)).status_code == 200


async def test_ipv4_mapped_ipv6_peers_follow_the_ipv4_rules(
    app: FastAPI, account: NewAccount, live_headers: dict[str, str]
) -> None:
    mapped_proxy = await routers_from(
        app, ("::ffff:10.1.2.3", 40000), account, live_headers, x_forwarded_proto="https"
    )
    assert mapped_proxy.status_code == 200
    mapped_loopback = await routers_from(app, ("::ffff:127.0.0.1", 40000), account, live_headers)
    assert mapped_loopback.status_code == 200
    mapped_remote = await routers_from(
        app, ("::ffff:203.0.113.7", 40000), account, live_headers, x_forwarded_proto="https"
    )
    assert_error(mapped_remote, 403, "HTTPS_REQUIRED")


class TestSameHostProxyTrusted:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, object]:
        return {"trusted_proxies": "127.0.0.1,::1"}

    async def test_its_forwarded_scheme_decides(
        self, app: FastAPI, account: NewAccount, live_headers: dict[str, str]
    ) -> None:
        local = ("127.0.0.1", 50000)
        https = await routers_from(
            app,
            local,
            account,
            live_headers,
            x_forwarded_for="203.0.113.7",
            x_forwarded_proto="https",
        )
        assert https.status_code == 200
        plain = await routers_from(
            app,
            local,
            account,
            live_headers,
            x_forwarded_for="203.0.113.7",
            x_forwarded_proto="http",
        )
        assert_error(plain, 403, "HTTPS_REQUIRED")
        mapped = await routers_from(
            app,
            ("::ffff:127.0.0.1", 1),
            account,
            live_headers,
            x_forwarded_for="203.0.113.7",
            x_forwarded_proto="https",
        )
        assert mapped.status_code == 200
