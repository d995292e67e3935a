"""Image transformations with ``UPLOADKIT_STORAGE=s3``: the original is read from moto's S3
server, the variant is written to the bucket under its derived key and served by this server,
and deleting the original removes the variant from the bucket."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.support import images
from tests.support.api import assert_error
from tests.support.fixtures import with_s3_settings
from tests.support.s3server import S3Bucket
from tests.support.transforms import variant_url, variants_of
from tests.support.uploads import complete, create_route, request_upload
from uploadkit_server.core.accounts.service import NewAccount
from uploadkit_server.runtime import Runtime

pytestmark = pytest.mark.s3


settings_overrides = with_s3_settings()


@pytest.fixture
async def photo(
    client: httpx.AsyncClient,
    s3_http: httpx.AsyncClient,
    account: NewAccount,
    live_headers: dict[str, str],
) -> dict[str, Any]:
    """A 400x200 JPEG PUT to its S3 presigned URL, as a browser would, and completed."""
    await create_route(client, live_headers, account.project.id, maxFileSize="4MB")
    data = images.jpeg(400, 200)
    ticket = (await request_upload(client, live_headers, size=len(data))).json()
    put = await s3_http.put(
        ticket["uploadUrl"], content=data, headers={"content-type": "image/jpeg"}
    )
    assert put.status_code == 200, put.text
    done = await complete(client, live_headers, ticket["fileId"])
    assert done.status_code == 200, done.text
    return dict(done.json())


async def test_variant_is_made_from_s3_and_stored_there(
    client: httpx.AsyncClient,
    runtime: Runtime,
    s3_bucket: S3Bucket,
    photo: dict[str, Any],
    live_headers: dict[str, str],
) -> None:
    url = await variant_url(
        client, live_headers, photo["key"], width=100, height=100, fit="cover", format="webp"
    )
    served = await client.get(url)

    assert served.status_code == 200, served.text
    assert images.dimensions(served.content) == (100, 100, "webpload_buffer")
    (variant,) = await variants_of(runtime, photo["key"])
    assert set(await s3_bucket.object_keys()) == {photo["key"], variant.object_key}
    stored = await s3_bucket.client.get_object(Bucket=s3_bucket.name, Key=variant.object_key)
    assert stored["ContentType"] == "image/webp"
    assert await stored["Body"].read() == served.content
    assert served.headers["etag"] == variant.etag
    part = await client.get(url, headers={"range": "bytes=0-9"})
    assert part.status_code == 206 and part.content == served.content[:10]
    assert (await client.get(url, headers={"if-none-match": variant.etag})).status_code == 304


async def test_deleting_the_original_removes_the_variant_from_the_bucket(
    client: httpx.AsyncClient,
    runtime: Runtime,
    s3_bucket: S3Bucket,
    photo: dict[str, Any],
    live_headers: dict[str, str],
) -> None:
    url = await variant_url(client, live_headers, photo["key"], width=50)
    for accept in ("image/avif", "image/webp", "*/*"):
        assert (await client.get(url, headers={"accept": accept})).status_code == 200
    assert len(set(await s3_bucket.object_keys())) == 4

    deleted = await client.delete(
        f"/api/v1/files/{quote(photo['key'], safe='')}", headers=live_headers
    )

    assert deleted.status_code == 200
    assert set(await s3_bucket.object_keys()) == set()
    assert await variants_of(runtime, photo["key"]) == []
    assert_error(await client.get(url), 404, "NOT_FOUND")
