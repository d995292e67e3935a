"""Bytes served by the CDN count in the owner's monthly usage, per mode, as they are sent."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.fixtures import with_settings
from tests.support.uploads import create_route, upload_file
from uploadkit_server.core.accounts.service import NewAccount
from uploadkit_server.jobs.served_bytes import flush_served_bytes
from uploadkit_server.runtime import Runtime

# The periodic flush must not run during a test: each one triggers it by hand.
settings_overrides = with_settings(job_interval=3600)


async def served(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    response = await client.get("/api/v1/usage", headers=headers)
    return int(response.json()["bytesServed"])


async def test_cdn_bytes_count_in_the_owners_usage(
    client: httpx.AsyncClient,
    runtime: Runtime,
    account: NewAccount,
    live_headers: dict[str, str],
    test_headers: dict[str, str],
) -> None:
    await create_route(client, live_headers, account.project.id, slug="files")
    data = bytes(range(256)) * 40  # 10240 bytes
    file: dict[str, Any] = await upload_file(client, live_headers, data)
    sandbox = await upload_file(client, test_headers, b"s" * 300, name="s.jpg")

    full = await client.get(file["url"])
    assert full.status_code == 200 and full.content == data
    part = await client.get(file["url"], headers={"range": "bytes=0-99"})
    assert part.status_code == 206 and len(part.content) == 100
    head = await client.head(file["url"])
    assert head.status_code == 200
    cached = await client.get(file["url"], headers={"if-none-match": full.headers["etag"]})
    assert cached.status_code == 304
    assert (await client.get(sandbox["url"])).content == b"s" * 300

    # Counted in memory; the periodic job writes it.
    assert await served(client, live_headers) == 0
    await flush_served_bytes(runtime)
    assert await served(client, live_headers) == len(data) + 100
    assert await served(client, test_headers) == 300

    await client.get(file["url"])
    await flush_served_bytes(runtime)
    assert await served(client, live_headers) == 2 * len(data) + 100
    history = (await client.get("/api/v1/usage/history", headers=live_headers)).json()["items"]
    assert history[0]["bytesServed"] == 2 * len(data) + 100
