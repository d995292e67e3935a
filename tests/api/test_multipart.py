"""Multipart uploads: init, part PUTs with ETags, resume (parts + sign-parts), complete, abort."""

from __future__ import annotations

import hashlib
import os
from typing import Any

import httpx
import pytest

from tests.support.api import assert_error
from tests.support.fixtures import with_route
from tests.support.uploads import complete_multipart, init_multipart, numbered, split_parts
from uploadkit_server.runtime import Runtime
from uploadkit_server.storage.base import ObjectNotFound

MIB = 1024 * 1024


route_fields = with_route(maxFileSize="100MB")


async def test_multipart_round_trip_with_resume(
    client: httpx.AsyncClient, route: dict[str, Any], live_headers: dict[str, str]
) -> None:
    data = os.urandom(11 * MIB + 123)
    response = await init_multipart(client, live_headers, size=len(data), metadata={"k": "v"})
    assert response.status_code == 200, response.text
    ticket = response.json()
    assert set(ticket) >= {"fileId", "uploadId", "key", "partSize", "parts"}
    assert ticket["partSize"] == 5 * MIB
    pieces = split_parts(data, ticket["partSize"])
    assert [p["partNumber"] for p in ticket["parts"]] == [1, 2, 3]

    etags = {}
    for part, piece in list(zip(ticket["parts"], pieces, strict=True))[:2]:
        put = await client.put(part["uploadUrl"], content=piece)
        assert put.status_code < 300, put.text
        assert put.headers["etag"] == '"' + hashlib.sha256(piece).hexdigest()[:32] + '"'
        etags[part["partNumber"]] = put.headers["etag"]

    # Resume: ask what storage holds, re-sign the missing part.
    listed = await client.get(
        "/api/v1/upload/multipart/parts",
        params={"fileId": ticket["fileId"], "uploadId": ticket["uploadId"]},
        headers=live_headers,
    )
    assert listed.status_code == 200, listed.text
    held = listed.json()
    assert held["partCount"] == 3
    assert [(p["partNumber"], p["etag"], p["size"]) for p in held["parts"]] == [
        (1, etags[1], 5 * MIB),
        (2, etags[2], 5 * MIB),
    ]
    signed = await client.post(
        "/api/v1/upload/multipart/sign-parts",
        json={"fileId": ticket["fileId"], "uploadId": ticket["uploadId"], "partNumbers": [3]},
        headers=live_headers,
    )
    assert signed.status_code == 200, signed.text
    put = await client.put(signed.json()["parts"][0]["uploadUrl"], content=pieces[2])
    etags[3] = put.headers["etag"]

    done = await complete_multipart(
        client, live_headers, ticket, numbered([etags[n] for n in sorted(etags)])
    )
    assert done.status_code == 200, done.text
    file = done.json()
    assert file["status"] == "UPLOADED" and file["fileSize"] == len(data)
    assert file["metadata"] == {"k": "v"}
    served = await client.get(file["url"])
    assert hashlib.sha256(served.content).hexdigest() == hashlib.sha256(data).hexdigest()

    again = await complete_multipart(
        client, live_headers, ticket, numbered([etags[n] for n in sorted(etags)])
    )
    assert again.json() == file


async def test_wrong_parts_are_refused_without_failing_the_upload(
    client: httpx.AsyncClient, route: dict[str, Any], live_headers: dict[str, str]
) -> None:
    ticket = (await init_multipart(client, live_headers, size=3)).json()
    put = await client.put(ticket["parts"][0]["uploadUrl"], content=b"abc")
    body = {"fileId": ticket["fileId"], "uploadId": ticket["uploadId"]}
    bad_etag = await client.post(
        "/api/v1/upload/multipart/complete",
        json=body | {"parts": [{"partNumber": 1, "etag": '"0000"'}]},
        headers=live_headers,
    )
    assert_error(bad_etag, 400, "VALIDATION_ERROR")
    missing = await client.post(
        "/api/v1/upload/multipart/complete",
        json=body | {"parts": [{"partNumber": 2, "etag": put.headers["etag"]}]},
        headers=live_headers,
    )
    assert_error(missing, 400, "VALIDATION_ERROR")
    good = await client.post(
        "/api/v1/upload/multipart/complete",
        json=body | {"parts": [{"partNumber": 1, "etag": put.headers["etag"]}]},
        headers=live_headers,
    )
    assert good.status_code == 200, good.text


async def test_abort_removes_every_part(
    client: httpx.AsyncClient, route: dict[str, Any], live_headers: dict[str, str], runtime: Runtime
) -> None:
    ticket = (await init_multipart(client, live_headers, size=6 * MIB)).json()
    await client.put(ticket["parts"][0]["uploadUrl"], content=b"a" * (5 * MIB))
    await client.put(ticket["parts"][1]["uploadUrl"], content=b"b" * MIB)
    ids = {"fileId": ticket["fileId"], "uploadId": ticket["uploadId"]}
    aborted = await client.post("/api/v1/upload/multipart/abort", json=ids, headers=live_headers)
    assert aborted.status_code == 200 and aborted.json() == {"aborted": True}
    with pytest.raises(ObjectNotFound):
        await runtime.storage.list_parts(ticket["key"], upload_id=ticket["uploadId"])
    assert await runtime.storage.head(ticket["key"]) is None
    for path in ("/api/v1/upload/multipart/complete",):
        response = await client.post(
            path, json=ids | {"parts": [{"partNumber": 1, "etag": '"x"'}]}, headers=live_headers
        )
        assert_error(response, 404, "UPLOAD_NOT_FOUND")
    listed = await client.get("/api/v1/upload/multipart/parts", params=ids, headers=live_headers)
    assert_error(listed, 404, "UPLOAD_NOT_FOUND")
    # The part URLs no longer accept bytes either.
    late = await client.put(ticket["parts"][0]["uploadUrl"], content=b"a" * (5 * MIB))
    assert late.status_code >= 400


async def test_sign_parts_validates_part_numbers(
    client: httpx.AsyncClient, route: dict[str, Any], live_headers: dict[str, str]
) -> None:
    ticket = (await init_multipart(client, live_headers, size=6 * MIB)).json()
    response = await client.post(
        "/api/v1/upload/multipart/sign-parts",
        json={"fileId": ticket["fileId"], "uploadId": ticket["uploadId"], "partNumbers": [3]},
        headers=live_headers,
    )
    assert_error(response, 400, "VALIDATION_ERROR")
    wrong_upload = await client.post(
        "/api/v1/upload/multipart/sign-parts",
        json={"fileId": ticket["fileId"], "uploadId": "other", "partNumbers": [1]},
        headers=live_headers,
    )
    assert_error(wrong_upload, 404, "UPLOAD_NOT_FOUND")


def test_part_size_keeps_within_ten_thousand_parts() -> None:
    from uploadkit_server.core.uploads.service import choose_part_size, part_count

    for size in (1, 5 * MIB, 100 * MIB, 10 * 1024**3, 50 * 1024**3):
        part = choose_part_size(size)
        assert part >= 5 * MIB and part % MIB == 0
        assert part_count(size, part) <= 10_000
