"""The SSRF guard, switched on: public HTTPS only, refused when a route is saved and again at
delivery after DNS resolution (a name resolving to 127.0.0.1 included)."""

from __future__ import annotations

import ipaddress
from typing import Any

import httpx
import pytest

from tests.core.webhooks.helpers import delivery_detail
from tests.core.webhooks.queueing import queue_deliveries
from tests.support.webhook_receiver import WebhookReceiver
from uploadkit_server.core.webhooks.dispatcher import WebhookDispatcher
from uploadkit_server.core.webhooks.ssrf import (
    UnsafeWebhookUrl,
    WebhookTarget,
    is_public_address,
    parse_target,
    resolve_public,
)


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"webhook_allow_private": False, "webhook_dispatcher": False, "webhook_retry_delays": []}


NOT_PUBLIC = [
    "127.0.0.1",
    "127.255.255.254",
    "10.0.0.1",
    "172.16.5.4",
    "192.168.1.1",
    "169.254.169.254",
    "100.64.0.1",
    "0.0.0.0",
    "224.0.0.1",
    "239.255.255.250",
    "255.255.255.255",
    "192.0.2.1",
    "198.18.0.1",
    "240.0.0.1",
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "fd12:3456::1",
    "ff02::1",
    "ff0e::1",
    "2001:db8::1",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "64:ff9b::7f00:1",
    "2002:7f00:1::1",
    "2002:a00:1::1",
]
PUBLIC = ["93.184.216.34", "1.1.1.1", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"]


@pytest.mark.parametrize("address", NOT_PUBLIC)
def test_private_and_special_addresses_are_not_public(address: str) -> None:
    assert not is_public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", PUBLIC)
def test_global_unicast_is_public(address: str) -> None:
    assert is_public_address(ipaddress.ip_address(address))


REFUSED_URLS = [
    "http://example.com/hook",  # plain HTTP
    "ftp://example.com/hook",
    "https://localhost/hook",
    "https://localhost./hook",
    "https://api.localhost/hook",
    "https://printer.local/hook",
    "https://metadata.google.internal/computeMetadata",
    "https://intranet/hook",  # single-label name
    "https://127.0.0.1/hook",
    "https://127.1/hook",  # short forms resolvers accept
    "https://2130706433/hook",
    "https://0x7f.0.0.1/hook",
    "https://10.1.2.3:8443/hook",
    "https://169.254.169.254/latest/meta-data",
    "https://[::1]/hook",
    "https://[::ffff:127.0.0.1]/hook",
    "https://[fe80::1]/hook",
    "https://[fd00::5]/hook",
    "https://user:secret@example.com/hook",
    "https:///no-host",
    "not a url",
]


@pytest.mark.parametrize("url", REFUSED_URLS)
def test_unsafe_urls_are_refused_before_dns(url: str) -> None:
    with pytest.raises(UnsafeWebhookUrl):
        parse_target(url, allow_private=False)


def test_allow_private_lifts_the_guard_including_plain_http() -> None:
    target = parse_target("http://127.0.0.1:9000/hook", allow_private=True)
    assert (target.host, target.port, target.scheme) == ("127.0.0.1", 9000, "http")
    parse_target("http://localhost/hook", allow_private=True)
    with pytest.raises(UnsafeWebhookUrl):
        parse_target("ftp://localhost/hook", allow_private=True)


async def test_a_name_resolving_to_loopback_is_refused_after_dns() -> None:
    target = WebhookTarget(url="https://localhost/hook", scheme="https", host="localhost", port=443)
    with pytest.raises(UnsafeWebhookUrl, match=r"127\.0\.0\.1"):
        await resolve_public(target, allow_private=False)
    assert await resolve_public(target, allow_private=True)  # resolves; allowed when lifted


SAVE_REFUSED = [
    "https://localhost/hook",
    "http://example.com/hook",
    "https://[::ffff:10.0.0.1]/x",
    "https://192.168.0.10/x",
]


async def test_route_save_refuses_unsafe_webhook_urls(
    client: httpx.AsyncClient, live_headers: dict[str, str], account: Any
) -> None:
    routes = f"/api/v1/projects/{account.project.id}/routers"
    for url in SAVE_REFUSED:
        response = await client.post(
            routes, json={"slug": "hooked", "webhookUrl": url}, headers=live_headers
        )
        assert response.status_code == 400, (url, response.text)
        error = response.json()["error"]
        assert error["code"] == "VALIDATION_ERROR" and "webhookUrl" in error["details"]
    listed = await client.get(routes, headers=live_headers)
    assert listed.json()["items"] == []  # nothing half-written


async def test_route_update_refuses_and_public_urls_are_accepted(
    client: httpx.AsyncClient, live_headers: dict[str, str], account: Any
) -> None:
    created = await client.post(
        f"/api/v1/projects/{account.project.id}/routers",
        json={"slug": "hooked", "webhookUrl": "https://93.184.216.34/hooks/uploadkit"},
        headers=live_headers,
    )
    assert created.status_code == 201, created.text
    route_id = created.json()["id"]
    refused = await client.patch(
        f"/api/v1/routers/{route_id}",
        json={"webhookUrl": "https://[::1]:8443/hook"},
        headers=live_headers,
    )
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "VALIDATION_ERROR"
    kept = await client.get(f"/api/v1/routers/{route_id}", headers=live_headers)
    assert kept.json()["webhookUrl"] == "https://93.184.216.34/hooks/uploadkit"


async def test_delivery_time_check_refuses_a_name_that_resolves_to_loopback(
    client: httpx.AsyncClient,
    live_headers: dict[str, str],
    runtime: Any,
    account: Any,
    receiver: WebhookReceiver,
) -> None:
    # Queued straight into the outbox: the save-time check would have refused this URL.
    [delivery_id] = await queue_deliveries(
        runtime.sessionmaker,
        project_id=account.project.id,
        account_id=account.account.id,
        url=f"https://localhost:{receiver.port}/hook",
        count=1,
    )
    dispatcher = WebhookDispatcher(settings=runtime.settings, sessionmaker=runtime.sessionmaker)
    try:
        assert await dispatcher.dispatch_due() == 1
    finally:
        await dispatcher.stop()
    assert receiver.count() == 0
    detail = await delivery_detail(client, live_headers, delivery_id)
    assert detail["status"] == "dead"  # no retries configured in this module
    [attempt] = detail["attempts"]
    assert attempt["statusCode"] is None
    assert attempt["error"] == "refused: localhost resolves to 127.0.0.1, which is not public"


async def test_guarded_requests_go_to_the_checked_address_under_the_original_name() -> None:
    from uploadkit_server.core.webhooks.sender import _request_target

    url, headers, server_name = await _request_target(
        "https://93.184.216.34:8443/hooks?x=1", allow_private=False
    )
    assert str(url) == "https://93.184.216.34:8443/hooks?x=1"
    assert headers == {"Host": "93.184.216.34:8443", "Connection": "close"}
    assert server_name == "93.184.216.34"
    url, headers, server_name = await _request_target("http://localhost:9000/h", allow_private=True)
    assert (str(url), headers, server_name) == ("http://localhost:9000/h", {}, None)
