"""The server's own transform limits through HTTP: source size (refused when the URL is
asked for) and the time limit (a variant that takes too long is not served, nor stored)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support import images
from tests.support.api import assert_error
from tests.support.fixtures import with_route, with_settings
from tests.support.transforms import transform, variant_url, variants_of
from tests.support.uploads import upload_file
from uploadkit_server.runtime import Runtime

MAX_SOURCE = 40_000


# Every transform in this module runs out of time: the limit is a nanosecond.
settings_overrides = with_settings(transform_max_source_bytes=MAX_SOURCE, transform_timeout=1e-9)


route_fields = with_route(maxFileSize="4MB")


async def test_sources_over_the_size_limit_are_refused(
    client: httpx.AsyncClient, route: dict[str, Any], live_headers: dict[str, str]
) -> None:
    data = images.png(300, 300)
    assert len(data) > MAX_SOURCE
    big = await upload_file(client, live_headers, data, name="big.png", content_type="image/png")

    error = assert_error(
        await transform(client, live_headers, big["key"], width=10),
        413,
        "IMAGE_TRANSFORM_SOURCE_TOO_LARGE",
    )
    assert str(MAX_SOURCE) in error["message"]
    usage = (await client.get("/api/v1/usage", headers=live_headers)).json()
    assert usage["transformUnits"] == 0


async def test_a_transform_over_the_time_limit_is_stopped(
    client: httpx.AsyncClient,
    runtime: Runtime,
    route: dict[str, Any],
    live_headers: dict[str, str],
) -> None:
    small = await upload_file(client, live_headers, images.jpeg(60, 40))
    url = await variant_url(client, live_headers, small["key"], width=30)

    assert_error(await client.get(url), 504, "IMAGE_TRANSFORM_TIMEOUT")
    assert await variants_of(runtime, small["key"]) == []
    assert (await client.get("/healthz")).status_code == 200
