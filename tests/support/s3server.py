"""An S3-compatible server for the tests: moto's server mode on a free loopback port.

One server per test process (started on first use, in a daemon thread), one uniquely named
bucket per test, emptied and removed afterwards. Tests reach it over real HTTP with the real
aiobotocore client, so every request is signed, serialised and parsed exactly as against AWS.
moto does not check presigned signatures, which is why the upload flow's own verification on
complete is tested against it. A second server on the same moto state does check them, as S3
does (``tests/support/sigv4.py``), to show what a strict store refuses.

Registered as a plugin in ``tests/conftest.py``; fixtures:

- ``s3_server``: the running server (``endpoint_url``).
- ``s3_credentials``: dummy AWS credentials in the environment for this test only.
- ``s3_bucket``: an ``S3Bucket`` (name, endpoint, region, and a raw client for inspection;
  ``object_keys()`` and ``open_multipart_uploads()`` list what it holds).
- ``s3_storage``: an ``S3Storage`` on that bucket, closed afterwards.
- ``s3_settings_overrides``: the ``Settings`` values that point an app at that bucket.
- ``s3_http``: a real HTTP client for the presigned URLs.
- ``strict_s3_bucket``, ``strict_s3_storage``, ``strict_s3_settings_overrides``: the same on the
  twin server that checks presigned signatures.

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
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from aiobotocore.session import get_session
from botocore.config import Config
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

from tests.support.sigv4 import presigned_request_is_valid
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

    async def object_keys(self) -> list[str]:
        """The keys of the objects in the bucket (the first thousand), in key order."""
        listing = await self.client.list_objects_v2(Bucket=self.name)
        return [item["Key"] for item in listing.get("Contents", [])]

    async def open_multipart_uploads(self) -> list[str]:
        """The keys of the multipart uploads started and neither completed nor aborted."""
        listing = await self.client.list_multipart_uploads(Bucket=self.name)
        return [upload["Key"] for upload in listing.get("Uploads", [])]


def signed_headers(url: str) -> set[str]:
    """The headers a presigned SigV4 URL signs (``X-Amz-SignedHeaders``)."""
    return set(parse_qs(urlsplit(url).query)["X-Amz-SignedHeaders"][0].split(";"))


Environ = dict[str, Any]
StartResponse = Any


class PresignedSignatureCheck:
    """WSGI middleware: refuse a presigned request whose SigV4 signature does not match it, the
    way S3 does (``403 SignatureDoesNotMatch``). Requests signed in headers pass through."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: Environ, start_response: StartResponse) -> Any:
        if "X-Amz-Signature=" not in environ.get("QUERY_STRING", ""):
            return self.app(environ, start_response)
        headers = {
            name[5:].replace("_", "-").lower(): value
            for name, value in environ.items()
            if name.startswith("HTTP_")
        }
        for name in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            if environ.get(name):
                headers[name.replace("_", "-").lower()] = environ[name]
        # REQUEST_URI is the request target exactly as sent, before any decoding.
        url = f"http://{environ['HTTP_HOST']}{environ['REQUEST_URI']}"
        if presigned_request_is_valid(
            url, method=environ["REQUEST_METHOD"], headers=headers, secret_key=SECRET_KEY
        ):
            return self.app(environ, start_response)
        environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))  # keep-alive stays sane
        body = (
            b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SignatureDoesNotMatch</Code>'
            b"<Message>The request signature we calculated does not match the signature you "
            b"provided.</Message></Error>"
        )
        start_response(
            "403 Forbidden",
            [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))],
        )
        return [body]


_servers: dict[bool, S3Server] = {}
_server_lock = threading.Lock()


def shared_s3_server(*, check_presigned: bool = False) -> S3Server:
    """The process's moto server (started on the first call, in a daemon thread), or its twin
    that checks presigned signatures. Both serve the same moto state."""
    with _server_lock:
        if check_presigned not in _servers:
            app: Any = DomainDispatcherApplication(create_backend_app)
            if check_presigned:
                app = PresignedSignatureCheck(app)
            server = make_server(
                "127.0.0.1", 0, app, threaded=True, request_handler=MotoRequestHandler
            )
            threading.Thread(target=server.serve_forever, daemon=True).start()
            atexit.register(server.shutdown)
            host, port = server.server_address[:2]
            _servers[check_presigned] = S3Server(endpoint_url=f"http://{host!s}:{port}")
        return _servers[check_presigned]


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
async def strict_s3_bucket(s3_credentials: None) -> AsyncIterator[S3Bucket]:
    async with fresh_bucket(shared_s3_server(check_presigned=True)) as bucket:
        yield bucket


@pytest.fixture
async def strict_s3_storage(strict_s3_bucket: S3Bucket) -> AsyncIterator[S3Storage]:
    storage = strict_s3_bucket.storage()
    try:
        yield storage
    finally:
        await storage.close()


def settings_for(bucket: S3Bucket) -> dict[str, object]:
    return {
        "storage": "s3",
        "s3_bucket": bucket.name,
        "s3_endpoint_url": bucket.endpoint_url,
        "s3_region": bucket.region,
        "s3_force_path_style": True,
    }


@pytest.fixture
async def s3_http() -> AsyncIterator[httpx.AsyncClient]:
    """A real HTTP client for presigned URLs (the ``client`` fixture only reaches the ASGI app)."""
    async with httpx.AsyncClient(timeout=30) as http:
        yield http


@pytest.fixture
def s3_settings_overrides(s3_bucket: S3Bucket) -> dict[str, object]:
    return settings_for(s3_bucket)


@pytest.fixture
def strict_s3_settings_overrides(strict_s3_bucket: S3Bucket) -> dict[str, object]:
    return settings_for(strict_s3_bucket)
