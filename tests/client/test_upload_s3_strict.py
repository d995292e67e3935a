"""The SDK against a real server on an S3 store that checks presigned signatures as S3 does:
the single-PUT URL signs ``If-None-Match: *``, so an upload works only if the SDK sends the
ticket's ``uploadHeaders`` (issue 12 finding 1), and a second PUT to the URL is refused."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.live_server import live_server
from tests.support.s3server import S3Bucket
from tests.support.sdk import admin_create_account, create_route
from uploadkit_client import UploadKit

pytestmark = pytest.mark.s3


async def test_sdk_upload_sends_the_signed_conditional_header(
    strict_s3_bucket: S3Bucket, tmp_path: Path
) -> None:
    env = {
        "UPLOADKIT_DATA_DIR": str(tmp_path / "data"),
        "UPLOADKIT_DATABASE_URL": f"sqlite:///{tmp_path / 'uploadkit.db'}",
        "UPLOADKIT_SECRET_KEY": "sdk-s3-test-secret",
        "UPLOADKIT_STORAGE": "s3",
        "UPLOADKIT_S3_BUCKET": strict_s3_bucket.name,
        "UPLOADKIT_S3_ENDPOINT_URL": strict_s3_bucket.endpoint_url,
        "UPLOADKIT_S3_REGION": strict_s3_bucket.region,
        "UPLOADKIT_S3_FORCE_PATH_STYLE": "true",
    }
    data = os.urandom(300_000)

    def run() -> tuple[dict[str, Any], httpx.Response]:
        account = admin_create_account(env, "s3-sdk@example.com", tier="enterprise")
        with live_server(env, data_dir=tmp_path / "data") as server:
            key, project = account["keys"]["live"], account["project"]["id"]
            create_route(server.url, key, project, slug="files", maxFileSize="16MB")
            with UploadKit(key, server.url, retry_base_delay=0.01) as sdk:
                stored = sdk.upload(data, route="files", file_name="a.bin")
                ticket = sdk.request(
                    "POST",
                    "/upload/request",
                    json={
                        "fileName": "b.bin",
                        "fileSize": len(data),
                        "contentType": "application/octet-stream",
                        "routeSlug": "files",
                    },
                )
            headers = {"content-type": "application/octet-stream", **ticket["uploadHeaders"]}
            first = httpx.put(ticket["uploadUrl"], content=data, headers=headers, timeout=30)
            assert first.status_code == 200, first.text
            again = httpx.put(ticket["uploadUrl"], content=data[::-1], headers=headers, timeout=30)
            return stored, again

    stored, again = await asyncio.to_thread(run)
    assert stored["status"] == "UPLOADED"
    body = await strict_s3_bucket.client.get_object(Bucket=strict_s3_bucket.name, Key=stored["key"])
    assert await body["Body"].read() == data
    assert again.status_code == 412  # the URL cannot replace what it stored
