"""Speaking tus by hand in tests: the headers every request needs, ``Upload-Metadata``."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import httpx

TUS = {"Tus-Resumable": "1.0.0"}
OFFSET_STREAM = "application/offset+octet-stream"


def encode_metadata(**values: str) -> str:
    return ",".join(
        f"{key} {base64.b64encode(value.encode()).decode()}" for key, value in values.items()
    )


def checksum_header(algorithm: str, data: bytes) -> str:
    return f"{algorithm} {base64.b64encode(hashlib.new(algorithm, data).digest()).decode()}"


async def tus_create(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    *,
    length: int | None,
    route: str = "files",
    name: str = "photo.png",
    content_type: str = "image/png",
    body: bytes | None = None,
    **extra_metadata: str,
) -> httpx.Response:
    request_headers: dict[str, str] = {
        **headers,
        **TUS,
        "Upload-Metadata": encode_metadata(
            filename=name, filetype=content_type, routeSlug=route, **extra_metadata
        ),
    }
    if length is None:
        request_headers["Upload-Defer-Length"] = "1"
    else:
        request_headers["Upload-Length"] = str(length)
    if body is not None:
        request_headers["Content-Type"] = OFFSET_STREAM
    return await client.post("/api/v1/tus/", headers=request_headers, content=body)


async def tus_patch(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    location: str,
    data: bytes,
    *,
    offset: int,
    **extra: Any,
) -> httpx.Response:
    request_headers = {
        **headers,
        **TUS,
        "Content-Type": OFFSET_STREAM,
        "Upload-Offset": str(offset),
        **{key.replace("_", "-"): str(value) for key, value in extra.items()},
    }
    return await client.patch(location, headers=request_headers, content=data)


# A PNG signature and IHDR chunk, then filler: enough for content sniffing to say image/png.
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00"


def png_bytes(size: int) -> bytes:
    return (PNG + bytes(range(256)) * (size // 256 + 1))[:size]
