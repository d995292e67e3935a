"""Checksummed uploads as a client performs them, for the checksum tests on every backend
(``tests/api/test_checksums.py``, ``test_checksums_s3.py``)."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import httpx

from tests.support.uploads import split_parts
from tests.support.webhook_receiver import WebhookReceiver, wait_until


def b64_sha256(data: bytes) -> str:
    """The base64 SHA-256 of ``data``, as a checksum field or ``x-amz-checksum-sha256``."""
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def corrupted(data: bytes, position: int) -> bytes:
    """``data`` with one bit of the byte at ``position`` flipped."""
    return data[:position] + bytes([data[position] ^ 0x01]) + data[position + 1 :]


def positions(size: int) -> list[int]:
    """First, middle and last byte: where a corruption is tried."""
    return [0, size // 2, size - 1]


async def request_with_checksum(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    size: int,
    *,
    checksum: dict[str, str] | None,
    path: str = "/api/v1/upload/request",
    content_type: str = "application/octet-stream",
) -> httpx.Response:
    """``/upload/request`` (or ``path``: ``/upload/multipart/init``) for ``size`` bytes of
    ``data.bin`` to the route ``files``, declaring ``checksum`` when given."""
    body: dict[str, Any] = {
        "fileName": "data.bin",
        "fileSize": size,
        "contentType": content_type,
        "routeSlug": "files",
    }
    if checksum is not None:
        body["checksum"] = checksum
    return await client.post(path, json=body, headers=headers)


async def multipart_of(
    client: httpx.AsyncClient, headers: dict[str, str], data: bytes, *, declared: bool
) -> tuple[dict[str, Any], list[bytes]]:
    """A multipart upload of ``data`` started (its whole SHA-256 declared if ``declared``): the
    ticket, and ``data`` cut at the ticket's part size."""
    checksum = {"algorithm": "sha256", "value": b64_sha256(data)} if declared else None
    ticket = await request_with_checksum(
        client, headers, len(data), checksum=checksum, path="/api/v1/upload/multipart/init"
    )
    assert ticket.status_code == 200, ticket.text
    body: dict[str, Any] = ticket.json()
    return body, split_parts(data, body["partSize"])


async def assert_sha256_everywhere(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    done: httpx.Response,
    data: bytes,
    receiver: WebhookReceiver,
) -> None:
    """Complete succeeded, and the SHA-256 of ``data`` is in its answer, in ``GET /files/{key}``,
    in the listing and in the ``onUploadComplete`` webhook the route's receiver gets."""
    assert done.status_code == 200, done.text
    sha256 = hashlib.sha256(data).hexdigest()
    assert done.json()["sha256"] == sha256
    key = done.json()["key"]
    one = await client.get(f"/api/v1/files/{key}", headers=headers)
    assert one.status_code == 200, one.text
    assert one.json()["sha256"] == sha256
    listing = await client.get("/api/v1/files", headers=headers)
    assert listing.status_code == 200, listing.text
    assert [f["sha256"] for f in listing.json()["items"] if f["key"] == key] == [sha256]
    await wait_until(lambda: receiver.count() == 1)
    assert json.loads(receiver.received[0].text)["file"]["sha256"] == sha256


def part_list(etags: list[str], pieces: list[bytes]) -> list[dict[str, Any]]:
    """The ``parts`` of a multipart complete, each with its SHA-256 checksum."""
    return [
        {
            "partNumber": number,
            "etag": etag,
            "checksum": {"algorithm": "sha256", "value": b64_sha256(piece)},
        }
        for number, (etag, piece) in enumerate(zip(etags, pieces, strict=True), start=1)
    ]
