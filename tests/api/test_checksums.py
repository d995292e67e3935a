"""End-to-end checksums on the local backend, through HTTP: a checksummed PUT whose bytes differ
anywhere is refused before anything is stored, the upload stays open for a correct PUT, and
every stored file carries the server's own SHA-256 (file object, listing, ``GET /files/{key}``
and the webhook)."""

from __future__ import annotations

import base64
import hashlib
import json
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
from tests.support.fixtures import with_hooked_route, with_settings
from tests.support.uploads import complete, numbered, put_parts
from tests.support.webhook_receiver import WebhookReceiver
from uploadkit_server.db.models import FileStatus
from uploadkit_server.runtime import Runtime
from uploadkit_server.storage.local import LocalStorage

MIB = 1024 * 1024


async def put(
    http: httpx.AsyncClient, url: str, data: bytes, checksum: str | None
) -> httpx.Response:
    headers = {"content-type": "application/octet-stream"}
    if checksum is not None:
        headers["x-amz-checksum-sha256"] = checksum
    return await http.put(url, content=data, headers=headers)


settings_overrides = with_settings(webhook_allow_private=True, webhook_poll_interval=0.05)


route_fields = with_hooked_route(maxFileSize="64MB", allowedTypes=["*/*"])


async def test_corrupted_byte_anywhere_is_refused_and_nothing_stored(
    client: httpx.AsyncClient,
    route: dict[str, Any],
    live_headers: dict[str, str],
    runtime: Runtime,
    receiver: WebhookReceiver,
) -> None:
    data = os.urandom(3 * MIB + 17)  # several batches of the receiving path
    checksum = b64_sha256(data)
    ticket = await request_with_checksum(
        client, live_headers, len(data), checksum={"algorithm": "sha256", "value": checksum}
    )
    assert ticket.status_code == 200, ticket.text
    file_id, key, url = ticket.json()["fileId"], ticket.json()["key"], ticket.json()["uploadUrl"]
    assert "checksum=sha256" in url

    assert isinstance(runtime.storage, LocalStorage)
    storage_root = runtime.storage.root
    for position in positions(len(data)):
        refused = await put(client, url, corrupted(data, position), checksum)
        error = assert_error(refused, 400, "CHECKSUM_MISMATCH")
        assert "nothing was stored" in str(error["message"])
        assert await runtime.storage.head(key) is None
        assert list((storage_root / "tmp").iterdir()) == []  # no partial bytes left either
        assert (await file_row(runtime.sessionmaker, file_id)).status == FileStatus.UPLOADING

    # Nothing stored, and the URL still valid: complete says so and the upload stays open.
    early = await complete(client, live_headers, file_id)
    assert_error(early, 409, "UPLOAD_INCOMPLETE")
    assert (await file_row(runtime.sessionmaker, file_id)).status == FileStatus.UPLOADING


async def test_correct_checksum_is_accepted_and_sha256_everywhere(
    client: httpx.AsyncClient,
    route: dict[str, Any],
    live_headers: dict[str, str],
    runtime: Runtime,
    receiver: WebhookReceiver,
) -> None:
    data = os.urandom(2 * MIB + 5)
    checksum = b64_sha256(data)
    ticket = await request_with_checksum(
        client, live_headers, len(data), checksum={"algorithm": "sha256", "value": checksum}
    )
    file_id, url = ticket.json()["fileId"], ticket.json()["uploadUrl"]
    # A wrong PUT first: the URL and the upload survive it.
    assert (await put(client, url, corrupted(data, 7), checksum)).status_code == 400
    stored = await put(client, url, data, checksum)
    assert stored.status_code == 200, stored.text
    assert stored.headers["etag"] == f'"{hashlib.sha256(data).hexdigest()[:32]}"'

    done = await complete(client, live_headers, file_id)
    await assert_sha256_everywhere(client, live_headers, done, data, receiver)


async def test_sha256_is_computed_without_a_declared_checksum(
    client: httpx.AsyncClient,
    route: dict[str, Any],
    live_headers: dict[str, str],
    receiver: WebhookReceiver,
) -> None:
    data = os.urandom(100_000)
    ticket = await request_with_checksum(client, live_headers, len(data), checksum=None)
    assert "checksum=" not in ticket.json()["uploadUrl"]
    assert (await put(client, ticket.json()["uploadUrl"], data, None)).status_code == 200
    done = await complete(client, live_headers, ticket.json()["fileId"])
    await assert_sha256_everywhere(client, live_headers, done, data, receiver)


async def test_checksum_url_cannot_be_edited(
    client: httpx.AsyncClient, route: dict[str, Any], live_headers: dict[str, str]
) -> None:
    """The checksum is part of the signature: dropping it or swapping it breaks the URL."""
    data = b"the real bytes"
    ticket = await request_with_checksum(
        client,
        live_headers,
        len(data),
        checksum={"algorithm": "sha256", "value": b64_sha256(data)},
    )
    url = httpx.URL(ticket.json()["uploadUrl"])
    other = b"other bytes!!!"
    swapped = url.copy_set_param("checksum", f"sha256:{b64_sha256(other)}")
    assert_error(await put(client, str(swapped), other, None), 403, "FORBIDDEN")
    dropped = url.copy_remove_param("checksum")
    assert_error(await put(client, str(dropped), other, None), 403, "FORBIDDEN")


@pytest.mark.parametrize(
    ("checksum", "problem"),
    [
        ({"algorithm": "sha256", "value": "not base64!"}, "base64"),
        ({"algorithm": "sha256", "value": base64.b64encode(b"short").decode()}, "32 bytes"),
        ({"algorithm": "md5", "value": b64_sha256(b"x")}, "algorithm"),
        ({"algorithm": "sha256"}, "value"),
    ],
)
async def test_malformed_checksums_are_refused(
    client: httpx.AsyncClient,
    route: dict[str, Any],
    live_headers: dict[str, str],
    checksum: dict[str, str],
    problem: str,
) -> None:
    response = await request_with_checksum(client, live_headers, 10, checksum=checksum)
    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert problem in json.dumps(error)


async def test_crc32c_is_refused_on_local_storage(
    client: httpx.AsyncClient, route: dict[str, Any], live_headers: dict[str, str]
) -> None:
    crc = {"algorithm": "crc32c", "value": base64.b64encode(b"\x00\x01\x02\x03").decode()}
    error = assert_error(
        await request_with_checksum(client, live_headers, 10, checksum=crc), 400, "VALIDATION_ERROR"
    )
    assert "cannot enforce crc32c" in str(error["message"])
    assert "sha256" in str(error["suggestion"])
    multipart = await request_with_checksum(
        client, live_headers, 10, checksum=crc, path="/api/v1/upload/multipart/init"
    )
    assert_error(multipart, 400, "VALIDATION_ERROR")


# -- multipart -----------------------------------------------------------------------------


async def test_multipart_part_and_whole_checksums_are_verified_at_complete(
    client: httpx.AsyncClient,
    route: dict[str, Any],
    live_headers: dict[str, str],
    runtime: Runtime,
    receiver: WebhookReceiver,
) -> None:
    data = os.urandom(10 * MIB + 3)
    body, pieces = await multipart_of(client, live_headers, data, declared=True)
    sent = [corrupted(pieces[0], 12345), *pieces[1:]]  # part 1 arrives damaged
    etags = await put_parts(client, body["parts"], sent)

    complete_body = {"fileId": body["fileId"], "uploadId": body["uploadId"]}
    refused = await client.post(
        "/api/v1/upload/multipart/complete",
        json={**complete_body, "parts": part_list(etags, pieces)},
        headers=live_headers,
    )
    error = assert_error(refused, 400, "CHECKSUM_MISMATCH")
    assert "Part 1" in str(error["message"])
    assert await runtime.storage.head(body["key"]) is None
    assert (await file_row(runtime.sessionmaker, body["fileId"])).status == FileStatus.UPLOADING

    # Whole-object check alone (no part checksums sent) catches it too.
    plain = numbered(etags)
    refused = await client.post(
        "/api/v1/upload/multipart/complete",
        json={**complete_body, "parts": plain},
        headers=live_headers,
    )
    assert_error(refused, 400, "CHECKSUM_MISMATCH")
    assert await runtime.storage.head(body["key"]) is None

    # The upload is still open: the part is sent again and complete succeeds.
    etags[0] = (await put_parts(client, body["parts"][:1], pieces[:1]))[0]
    done = await client.post(
        "/api/v1/upload/multipart/complete",
        json={**complete_body, "parts": part_list(etags, pieces)},
        headers=live_headers,
    )
    await assert_sha256_everywhere(client, live_headers, done, data, receiver)


async def test_multipart_checksum_can_be_given_at_complete(
    client: httpx.AsyncClient, route: dict[str, Any], live_headers: dict[str, str]
) -> None:
    """A client that hashes while it uploads (one read of the file) declares it at the end."""
    data = os.urandom(6 * MIB)
    body, pieces = await multipart_of(client, live_headers, data, declared=False)
    etags = await put_parts(client, body["parts"], pieces)
    base = {
        "fileId": body["fileId"],
        "uploadId": body["uploadId"],
        "parts": part_list(etags, pieces),
    }
    wrong = await client.post(
        "/api/v1/upload/multipart/complete",
        json={**base, "checksum": {"algorithm": "sha256", "value": b64_sha256(b"else")}},
        headers=live_headers,
    )
    assert_error(wrong, 400, "CHECKSUM_MISMATCH")
    done = await client.post(
        "/api/v1/upload/multipart/complete",
        json={**base, "checksum": {"algorithm": "sha256", "value": b64_sha256(data)}},
        headers=live_headers,
    )
    assert done.status_code == 200, done.text
    assert done.json()["sha256"] == hashlib.sha256(data).hexdigest()
