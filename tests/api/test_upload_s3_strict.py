"""The upload flow against an S3 server that checks presigned signatures as S3 does: the URLs
the API hands out are accepted with exactly the headers a client naturally sends, and a PUT of
another type or size is refused by the store itself, before the server's own verification."""

from __future__ import annotations

import os
from typing import Any

import httpx
import pytest

from tests.support.api import assert_error
from tests.support.fixtures import with_route, with_s3_settings
from tests.support.s3server import S3Bucket
from tests.support.uploads import (
    complete,
    complete_multipart,
    init_multipart,
    numbered,
    put_headers,
    request_upload,
    split_parts,
)

pytestmark = pytest.mark.s3

MIB = 1024 * 1024


settings_overrides = with_s3_settings(strict=True)


route_fields = with_route(maxFileSize="64MB")


async def test_single_upload_passes_a_signature_checking_store(
    client: httpx.AsyncClient,
    s3_http: httpx.AsyncClient,
    route: dict[str, Any],
    live_headers: dict[str, str],
    strict_s3_bucket: S3Bucket,
) -> None:
    data = os.urandom(200_000)
    ticket = (await request_upload(client, live_headers, size=len(data))).json()

    assert ticket["uploadHeaders"] == {"If-None-Match": "*"}
    wrong_type = await s3_http.put(
        ticket["uploadUrl"], content=data, headers=put_headers(ticket, "image/png")
    )
    wrong_size = await s3_http.put(
        ticket["uploadUrl"], content=data[:-1], headers=put_headers(ticket)
    )
    # The conditional write is signed: a client cannot drop it to overwrite a stored object.
    unconditional = await s3_http.put(
        ticket["uploadUrl"], content=data, headers={"content-type": "image/jpeg"}
    )
    assert (wrong_type.status_code, wrong_size.status_code, unconditional.status_code) == (
        403,
        403,
        403,
    )
    early = await complete(client, live_headers, ticket["fileId"])
    assert_error(early, 409, "UPLOAD_INCOMPLETE")  # nothing was stored: keep waiting

    second = (await request_upload(client, live_headers, size=len(data))).json()
    put = await s3_http.put(second["uploadUrl"], content=data, headers=put_headers(second))
    assert put.status_code == 200, put.text
    done = await complete(client, live_headers, second["fileId"])
    assert done.status_code == 200, done.text
    redirect = await client.get(f"/cdn/{second['key']}")
    assert redirect.status_code == 307
    assert (await s3_http.get(redirect.headers["location"])).content == data


async def test_multipart_upload_passes_a_signature_checking_store(
    client: httpx.AsyncClient,
    s3_http: httpx.AsyncClient,
    route: dict[str, Any],
    live_headers: dict[str, str],
) -> None:
    data = os.urandom(6 * MIB + 5)
    response = await init_multipart(client, live_headers, size=len(data))
    assert response.status_code == 200, response.text
    ticket = response.json()
    size = ticket["partSize"]
    pieces = split_parts(data, size)
    first, last = ticket["parts"]
    assert (await s3_http.put(last["uploadUrl"], content=pieces[1] + b"x")).status_code == 403

    etags = [
        (await s3_http.put(part["uploadUrl"], content=piece)).headers["etag"]
        for part, piece in zip((first, last), pieces, strict=True)
    ]
    done = await complete_multipart(client, live_headers, ticket, numbered(etags))

    assert done.status_code == 200, done.text
    assert done.json()["fileSize"] == len(data)
