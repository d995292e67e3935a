"""End-to-end checksums with ``UPLOADKIT_STORAGE=s3``, bytes over HTTP to moto's S3 server.

The presigned PUT signs ``x-amz-checksum-sha256`` (or ``-crc32c``), so AWS S3 itself refuses a
body that does not match it (``BadDigest``). moto does not check body checksums (nor presigned
signatures), so a damaged body is stored there; these tests show that complete then finds the
mismatch, deletes the object and leaves the upload open for a correct PUT, which is what
protects stores that do not enforce the header. The signature-checking twin shows that the
header is signed: a PUT that drops or changes it is refused.
"""

from __future__ import annotations

import base64
import hashlib
import os
from typing import Any

import httpx
import pytest

from tests.support.api import assert_error
from tests.support.checksums import (
    assert_sha256_everywhere,
    b64_sha256,
    corrupted,
    multipart_of,
    part_list,
    positions,
    request_with_checksum,
)
from tests.support.file_records import file_row
from tests.support.fixtures import with_hooked_route, with_s3_settings
from tests.support.s3server import S3Bucket, signed_headers
from tests.support.uploads import complete, complete_multipart, put_parts
from tests.support.webhook_receiver import WebhookReceiver
from uploadkit_server.db.models import FileStatus
from uploadkit_server.runtime import Runtime

pytestmark = pytest.mark.s3

MIB = 1024 * 1024


settings_overrides = with_s3_settings(webhook_allow_private=True, webhook_poll_interval=0.05)


route_fields = with_hooked_route(maxFileSize="64MB", allowedTypes=["*/*"])


async def s3_put(
    http: httpx.AsyncClient,
    url: str,
    data: bytes,
    *,
    header: str,
    value: str,
    upload_headers: dict[str, str] | None = None,
) -> httpx.Response:
    headers = {"content-type": "application/octet-stream", **(upload_headers or {}), header: value}
    return await http.put(url, content=data, headers=headers)


async def test_corrupted_byte_anywhere_is_refused_and_nothing_stored(
    client: httpx.AsyncClient,
    route: dict[str, Any],
    live_headers: dict[str, str],
    s3_http: httpx.AsyncClient,
    s3_bucket: S3Bucket,
    runtime: Runtime,
    receiver: WebhookReceiver,
) -> None:
    data = os.urandom(MIB + 333)
    checksum = b64_sha256(data)
    ticket = await request_with_checksum(
        client, live_headers, len(data), checksum={"algorithm": "sha256", "value": checksum}
    )
    assert ticket.status_code == 200, ticket.text
    file_id, url = ticket.json()["fileId"], ticket.json()["uploadUrl"]
    assert "x-amz-checksum-sha256" in signed_headers(url)

    for position in positions(len(data)):
        damaged = corrupted(data, position)
        put = await s3_put(s3_http, url, damaged, header="x-amz-checksum-sha256", value=checksum)
        assert put.status_code == 200, put.text  # moto keeps it; AWS would answer BadDigest
        refused = await complete(client, live_headers, file_id)
        error = assert_error(refused, 400, "CHECKSUM_MISMATCH")
        assert "deleted" in str(error["message"])
        assert await s3_bucket.object_keys() == []
        assert (await file_row(runtime.sessionmaker, file_id)).status == FileStatus.UPLOADING

    put = await s3_put(s3_http, url, data, header="x-amz-checksum-sha256", value=checksum)
    assert put.status_code == 200, put.text
    done = await complete(client, live_headers, file_id)
    await assert_sha256_everywhere(client, live_headers, done, data, receiver)


async def test_sha256_is_null_without_a_checksum_on_s3(
    client: httpx.AsyncClient,
    route: dict[str, Any],
    live_headers: dict[str, str],
    s3_http: httpx.AsyncClient,
) -> None:
    """S3 keeps no SHA-256 of an upload sent without one, and reading every object back on
    complete is what the checksum option is for: documented as null."""
    data = b"plain bytes" * 100
    ticket = await request_with_checksum(client, live_headers, len(data), checksum=None)
    assert "x-amz-checksum-sha256" not in signed_headers(ticket.json()["uploadUrl"])
    put = await s3_http.put(
        ticket.json()["uploadUrl"],
        content=data,
        headers={"content-type": "application/octet-stream"},
    )
    assert put.status_code == 200, put.text
    done = await complete(client, live_headers, ticket.json()["fileId"])
    assert done.status_code == 200, done.text
    assert done.json()["sha256"] is None


async def test_crc32c_is_signed_into_the_url(
    client: httpx.AsyncClient,
    route: dict[str, Any],
    live_headers: dict[str, str],
    s3_http: httpx.AsyncClient,
) -> None:
    data = b"crc bytes"
    value = base64.b64encode(b"\x12\x34\x56\x78").decode()
    ticket = await request_with_checksum(
        client, live_headers, len(data), checksum={"algorithm": "crc32c", "value": value}
    )
    assert ticket.status_code == 200, ticket.text
    assert "x-amz-checksum-crc32c" in signed_headers(ticket.json()["uploadUrl"])


class TestAgainstASignatureCheckingStore:
    @pytest.fixture
    def settings_overrides(
        self, strict_s3_settings_overrides: dict[str, object]
    ) -> dict[str, object]:
        return {**strict_s3_settings_overrides, "webhook_allow_private": True}

    async def test_the_checksum_header_is_signed(
        self,
        client: httpx.AsyncClient,
        route: dict[str, Any],
        live_headers: dict[str, str],
        s3_http: httpx.AsyncClient,
        strict_s3_bucket: S3Bucket,
    ) -> None:
        data = os.urandom(4096)
        checksum = b64_sha256(data)
        ticket = await request_with_checksum(
            client, live_headers, len(data), checksum={"algorithm": "sha256", "value": checksum}
        )
        url, required = ticket.json()["uploadUrl"], ticket.json()["uploadHeaders"]
        assert required == {"If-None-Match": "*", "x-amz-checksum-sha256": checksum}
        conditional = {"If-None-Match": "*"}  # signed too: sent, so only the checksum differs
        other = b64_sha256(b"other")
        swapped = await s3_put(
            s3_http,
            url,
            data,
            header="x-amz-checksum-sha256",
            value=other,
            upload_headers=conditional,
        )
        assert swapped.status_code == 403
        assert b"SignatureDoesNotMatch" in swapped.content
        dropped = await s3_http.put(
            url, content=data, headers={"content-type": "application/octet-stream", **conditional}
        )
        assert dropped.status_code == 403
        assert await strict_s3_bucket.object_keys() == []
        put = await s3_http.put(
            url, content=data, headers={"content-type": "application/octet-stream", **required}
        )
        assert put.status_code == 200, put.text


async def test_multipart_checksums_are_verified_at_complete(
    client: httpx.AsyncClient,
    route: dict[str, Any],
    live_headers: dict[str, str],
    s3_http: httpx.AsyncClient,
    s3_bucket: S3Bucket,
    runtime: Runtime,
) -> None:
    """S3 assembles the parts before anything can be compared with the whole; a mismatch found
    then deletes the object and fails the upload (its multipart upload is gone)."""
    data = os.urandom(10 * MIB + 1)
    body, pieces = await multipart_of(client, live_headers, data, declared=True)
    sent = [pieces[0], corrupted(pieces[1], len(pieces[1]) - 1), *pieces[2:]]
    etags = await put_parts(s3_http, body["parts"], sent)
    refused = await complete_multipart(client, live_headers, body, part_list(etags, pieces))
    error = assert_error(refused, 400, "CHECKSUM_MISMATCH")
    assert "Part 2" in str(error["message"])
    assert await s3_bucket.object_keys() == []
    assert (await file_row(runtime.sessionmaker, body["fileId"])).status == FileStatus.FAILED


async def test_multipart_with_correct_checksums_records_sha256(
    client: httpx.AsyncClient,
    route: dict[str, Any],
    live_headers: dict[str, str],
    s3_http: httpx.AsyncClient,
) -> None:
    data = os.urandom(5 * MIB + 77)
    body, pieces = await multipart_of(client, live_headers, data, declared=False)
    etags = await put_parts(s3_http, body["parts"], pieces)
    done = await complete_multipart(
        client,
        live_headers,
        body,
        part_list(etags, pieces),
        checksum={"algorithm": "sha256", "value": b64_sha256(data)},
    )
    assert done.status_code == 200, done.text
    assert done.json()["sha256"] == hashlib.sha256(data).hexdigest()
