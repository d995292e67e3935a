"""An S3-compatible server for the tests: moto's server mode on a free loopback port.

One server per test process (started on first use, in a daemon thread), one uniquely named
bucket per test, emptied and removed afterwards. Tests reach it over real HTTP with the real
aiobotocore client, so every request is signed, serialised and parsed exactly as against AWS.
moto does not check presigned signatures, which is why the upload flow's own verification on
complete is tested against it.

Registered as a plugin in ``tests/conftest.py``; fixtures:

- ``s3_server``: the running server (``endpoint_url``).
- ``s3_credentials``: dummy AWS credentials in the environment for this test only.
- ``s3_bucket``: an ``S3Bucket`` (name, endpoint, region, and a raw client for inspection).
- ``s3_storage``: an ``S3Storage`` on that bucket, closed afterwards.
- ``s3_settings_overrides``: the ``Settings`` values that point an app at that bucket.

Code that cannot take fixtures (backend factories) uses ``shared_s3_server()``,
``dummy_aws_credentials()`` and ``fresh_bucket()`` directly.
"""

from __future__ import annotations

import atexit
import os
import secrets
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
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

    def storage(self, **options: Any) -> S3Storage:
        """An ``S3Storage`` on this bucket, as ``UPLOADKIT_S3_FORCE_PATH_STYLE=true`` builds it."""
        return S3Storage(
            bucket=self.name,
            endpoint_url=self.endpoint_url,
            region=self.region,
            force_path_style=True,
            **options,
        )


_server: S3Server | None = None
_server_lock = threading.Lock()


def shared_s3_server() -> S3Server:
    """The process's moto server, started on the first call and stopped at exit."""
    global _server
    with _server_lock:
        if _server is None:
            moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            moto.start()
            atexit.register(moto.stop)
            host, port = moto.get_host_and_port()
            _server = S3Server(endpoint_url=f"http://{host}:{port}")
        return _server


@contextmanager
def dummy_aws_credentials() -> Iterator[None]:
    """Dummy credentials (and no real AWS configuration) in the environment, restored after."""
    saved = {name: os.environ.get(name) for name in (*_AWS_ENV, *_AWS_ENV_REMOVED)}
    os.environ.update(_AWS_ENV)
    for name in _AWS_ENV_REMOVED:
        os.environ.pop(name, None)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@asynccontextmanager
async def fresh_bucket(server: S3Server) -> AsyncIterator[S3Bucket]:
    """A new, uniquely named bucket; emptied (uploads aborted too) and removed afterwards."""
    name = f"uk-test-{secrets.token_hex(6)}"
    config = Config(signature_version="s3v4", s3={"addressing_style": "path"})
    async with get_session().create_client(
        "s3",
        endpoint_url=server.endpoint_url,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=config,
    ) as client:
        await client.create_bucket(Bucket=name)
        try:
            yield S3Bucket(
                name=name, endpoint_url=server.endpoint_url, region=REGION, client=client
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


@pytest.fixture(scope="session")
def s3_server() -> S3Server:
    return shared_s3_server()


@pytest.fixture
def s3_credentials() -> Iterator[None]:
    with dummy_aws_credentials():
        yield


@pytest.fixture
async def s3_bucket(s3_server: S3Server, s3_credentials: None) -> AsyncIterator[S3Bucket]:
    async with fresh_bucket(s3_server) as bucket:
        yield bucket


@pytest.fixture
async def s3_storage(s3_bucket: S3Bucket) -> AsyncIterator[S3Storage]:
    storage = s3_bucket.storage()
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
