"""An S3-compatible server for the tests: moto's server mode on a free loopback port.

One server per test session (started on first use), one uniquely named bucket per test, emptied
and removed afterwards. Tests reach it over real HTTP with the real aiobotocore client, so every
request is signed, serialised and parsed exactly as against AWS. moto does not check presigned
signatures, which is why the upload flow's own verification on complete is tested against it.

Registered as a plugin in ``tests/conftest.py``; fixtures:

- ``s3_server``: the running server (``endpoint_url``), session-wide.
- ``s3_credentials``: dummy AWS credentials in the environment for this test only.
- ``s3_bucket``: an ``S3Bucket`` (name, endpoint, region, and a raw client for inspection).
- ``s3_storage``: an ``S3Storage`` on that bucket, closed afterwards.
- ``s3_settings_overrides``: the ``Settings`` values that point an app at that bucket.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiobotocore.session import get_session
from botocore.config import Config
from moto.server import ThreadedMotoServer

from uploadkit_server.storage.s3 import S3Storage

REGION = "us-east-1"
ACCESS_KEY = "uploadkit-test-key"
SECRET_KEY = "uploadkit-test-secret"

#: Variables that could make botocore read a developer's real AWS setup instead of ours.
_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": ACCESS_KEY,
    "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
    "AWS_DEFAULT_REGION": REGION,
    "AWS_CONFIG_FILE": "/nonexistent/uploadkit-test-aws-config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/uploadkit-test-aws-credentials",
    "AWS_EC2_METADATA_DISABLED": "true",
}
_AWS_ENV_REMOVED = ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_REGION", "AWS_ENDPOINT_URL")


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str


@dataclass(frozen=True)
class S3Bucket:
    name: str
    endpoint_url: str
    region: str
    #: A raw aiobotocore S3 client, for looking at the bucket behind the backend's back.
    client: Any


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield S3Server(endpoint_url=f"http://{host}:{port}")
    finally:
        server.stop()


@pytest.fixture
def s3_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in _AWS_ENV.items():
        monkeypatch.setenv(name, value)
    for name in _AWS_ENV_REMOVED:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
async def s3_bucket(s3_server: S3Server, s3_credentials: None) -> AsyncIterator[S3Bucket]:
    name = f"uk-test-{secrets.token_hex(6)}"
    config = Config(signature_version="s3v4", s3={"addressing_style": "path"})
    async with get_session().create_client(
        "s3", endpoint_url=s3_server.endpoint_url, region_name=REGION, config=config
    ) as client:
        await client.create_bucket(Bucket=name)
        try:
            yield S3Bucket(
                name=name, endpoint_url=s3_server.endpoint_url, region=REGION, client=client
            )
        finally:
            await empty_and_remove(client, name)


async def empty_and_remove(client: Any, bucket: str) -> None:
    uploads = await client.list_multipart_uploads(Bucket=bucket)
    for upload in uploads.get("Uploads", []):
        await client.abort_multipart_upload(
            Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"]
        )
    async for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            await client.delete_object(Bucket=bucket, Key=item["Key"])
    await client.delete_bucket(Bucket=bucket)


@pytest.fixture
async def s3_storage(s3_bucket: S3Bucket) -> AsyncIterator[S3Storage]:
    storage = S3Storage(
        bucket=s3_bucket.name,
        endpoint_url=s3_bucket.endpoint_url,
        region=s3_bucket.region,
        force_path_style=True,
    )
    try:
        yield storage
    finally:
        await storage.close()


@pytest.fixture
def s3_settings_overrides(s3_bucket: S3Bucket) -> dict[str, object]:
    return {
        "storage": "s3",
        "s3_bucket": s3_bucket.name,
        "s3_endpoint_url": s3_bucket.endpoint_url,
        "s3_region": s3_bucket.region,
        "s3_force_path_style": True,
    }
