"""Content sniffing at complete, under the route's ``typeCheck`` (off, lenient, strict)."""

from __future__ import annotations

import httpx
import pytest

from tests.support.api import assert_error
from tests.support.tus import png_bytes, tus_create, tus_patch
from tests.support.uploads import complete, create_route, request_upload
from uploadkit_server.core.accounts.service import NewAccount
from uploadkit_server.core.uploads.content_check import detect_type
from uploadkit_server.runtime import Runtime


def windows_executable(size: int = 4096) -> bytes:
    """A PE image's first bytes: ``MZ``, ``e_lfanew`` at 0x3C pointing at ``PE\\0\\0``."""
    head = bytearray(b"MZ" + b"\x90\x00" * 29)
    head += b"\x00" * (0x3C - len(head)) + (0x80).to_bytes(4, "little")
    head += b"\x00" * (0x80 - len(head)) + b"PE\x00\x00\x4c\x01"
    return bytes(head + b"\x00" * (size - len(head)))


HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01" + b"\x00" * 500


async def _put_and_complete(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    data: bytes,
    *,
    content_type: str,
    route: str = "files",
) -> tuple[dict[str, str], httpx.Response]:
    ticket = await request_upload(
        client, headers, size=len(data), content_type=content_type, route=route, name="x.png"
    )
    assert ticket.status_code == 200, ticket.text
    put = await client.put(
        ticket.json()["uploadUrl"], content=data, headers={"content-type": content_type}
    )
    assert put.status_code < 300, put.text
    done = await complete(client, headers, ticket.json()["fileId"])
    return ticket.json(), done


async def _usage(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, int]:
    return dict((await client.get("/api/v1/usage", headers=headers)).json())


@pytest.mark.parametrize(
    ("data", "detected"),
    [
        (windows_executable(), "application/vnd.microsoft.portable-executable"),
        (b"\x7fELF\x02\x01\x01" + b"\x00" * 200, "application/x-executable"),
        (HTML, "text/html"),
        (b"#!/bin/sh\nrm -rf /\n", "text/x-shellscript"),
    ],
)
async def test_lenient_route_refuses_active_content_declared_as_an_image(
    client: httpx.AsyncClient,
    account: NewAccount,
    live_headers: dict[str, str],
    runtime: Runtime,
    data: bytes,
    detected: str,
) -> None:
    route = await create_route(client, live_headers, account.project.id)
    assert route["typeCheck"] == "lenient"
    ticket, done = await _put_and_complete(client, live_headers, data, content_type="image/png")
    error = assert_error(done, 422, "FILE_TYPE_MISMATCH")
    assert detected in error["message"]
    assert await runtime.storage.head(ticket["key"]) is None  # its object is deleted
    usage = await _usage(client, live_headers)
    assert usage["storageBytes"] == 0 and usage["uploadsInFlight"] == 0 and usage["uploads"] == 0
    files = (
        await client.get("/api/v1/files", params={"status": "FAILED"}, headers=live_headers)
    ).json()["items"]
    assert [f["key"] for f in files] == [ticket["key"]]
    again = await complete(client, live_headers, ticket["fileId"])
    assert_error(again, 422, "FILE_TYPE_MISMATCH")


async def test_lenient_route_accepts_near_misses_and_unknown_bytes(
    client: httpx.AsyncClient, account: NewAccount, live_headers: dict[str, str]
) -> None:
    await create_route(client, live_headers, account.project.id)
    for data, declared, detected in (
        (JPEG, "image/png", "image/jpeg"),  # same family
        (b"plain words", "image/jpeg", "text/plain"),  # a guess, not a known signature
        (bytes(range(256)) * 4, "application/octet-stream", None),
        (png_bytes(1000), "image/png", "image/png"),
        (b'{"a": 1}', "application/json", "application/json"),
    ):
        _ticket, done = await _put_and_complete(client, live_headers, data, content_type=declared)
        assert done.status_code == 200, done.text
        assert done.json()["detectedType"] == detected


async def test_strict_route_needs_a_recognised_allowed_type(
    client: httpx.AsyncClient, account: NewAccount, live_headers: dict[str, str]
) -> None:
    await create_route(
        client,
        live_headers,
        account.project.id,
        slug="strict",
        typeCheck="strict",
        allowedTypes=["image/png", "application/octet-stream"],
    )
    ok = (
        await _put_and_complete(
            client, live_headers, png_bytes(800), content_type="image/png", route="strict"
        )
    )[1]
    assert ok.status_code == 200 and ok.json()["detectedType"] == "image/png"
    unknown = (
        await _put_and_complete(
            client,
            live_headers,
            bytes(range(256)) * 4,
            content_type="application/octet-stream",
            route="strict",
        )
    )[1]
    assert_error(unknown, 422, "FILE_TYPE_MISMATCH")
    jpeg = (
        await _put_and_complete(
            client, live_headers, JPEG, content_type="image/png", route="strict"
        )
    )[1]
    assert_error(jpeg, 422, "FILE_TYPE_MISMATCH")  # image/jpeg is not allowed here


async def test_off_route_reads_nothing(
    client: httpx.AsyncClient, account: NewAccount, live_headers: dict[str, str]
) -> None:
    route = await create_route(client, live_headers, account.project.id, typeCheck="off")
    done = (
        await _put_and_complete(
            client, live_headers, windows_executable(), content_type="image/png"
        )
    )[1]
    assert done.status_code == 200 and done.json()["detectedType"] is None
    patched = await client.patch(
        f"/api/v1/routers/{route['id']}", json={"typeCheck": "strict"}, headers=live_headers
    )
    assert patched.status_code == 200 and patched.json()["typeCheck"] == "strict"
    for bad in ({"typeCheck": "paranoid"}, {"typeCheck": None}):
        response = await client.patch(
            f"/api/v1/routers/{route['id']}", json=bad, headers=live_headers
        )
        assert_error(response, 400, "VALIDATION_ERROR")


async def test_a_renamed_executable_sent_over_tus_is_refused(
    client: httpx.AsyncClient, account: NewAccount, live_headers: dict[str, str]
) -> None:
    await create_route(client, live_headers, account.project.id)
    data = windows_executable(20_000)
    location = (await tus_create(client, live_headers, length=len(data))).headers["location"]
    last = await tus_patch(client, live_headers, location, data, offset=0)
    assert_error(last, 422, "FILE_TYPE_MISMATCH")
    head = await client.head(location, headers={**live_headers, "Tus-Resumable": "1.0.0"})
    assert head.status_code == 404
    usage = await _usage(client, live_headers)
    assert usage["storageBytes"] == 0 and usage["uploadsInFlight"] == 0


def test_detection_prefers_the_declared_type_among_equal_candidates() -> None:
    zip_bytes = b"PK\x03\x04" + b"\x00" * 100
    assert detect_type(zip_bytes, declared="application/zip") == "application/zip"
    assert detect_type(b"MZ" + b"\x00" * 100, declared="image/png") is None  # "MZ" alone
    assert detect_type(b"\xef\xbb\xbf  <html><body>", declared="image/png") == "text/html"
    assert detect_type("caf\u00e9".encode()[:-1], declared="text/plain") == "text/plain"
