"""The upload flow as a client performs it, for tests that need files to exist."""

from __future__ import annotations

from typing import Any

import httpx


async def create_route(
    client: httpx.AsyncClient, headers: dict[str, str], project_id: str, **fields: Any
) -> dict[str, Any]:
    body = {"slug": "files", **fields}
    response = await client.post(
        f"/api/v1/projects/{project_id}/routers", json=body, headers=headers
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def request_upload(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    *,
    size: int,
    name: str = "photo.jpg",
    content_type: str = "image/jpeg",
    route: str = "files",
    metadata: dict[str, Any] | None = None,
) -> httpx.Response:
    body: dict[str, Any] = {
        "fileName": name,
        "fileSize": size,
        "contentType": content_type,
        "routeSlug": route,
    }
    if metadata is not None:
        body["metadata"] = metadata
    return await client.post("/api/v1/upload/request", json=body, headers=headers)


def put_headers(ticket: dict[str, Any], content_type: str = "image/jpeg") -> dict[str, str]:
    """The headers a client sends with the PUT: the declared type and every ``uploadHeaders``
    entry (S3's signed ``If-None-Match: *``)."""
    return {"content-type": content_type, **ticket.get("uploadHeaders", {})}


async def complete(
    client: httpx.AsyncClient, headers: dict[str, str], file_id: str
) -> httpx.Response:
    """``POST /upload/complete`` for the file; the response, whatever it is."""
    return await client.post("/api/v1/upload/complete", json={"fileId": file_id}, headers=headers)


async def upload_file(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    data: bytes,
    *,
    name: str = "photo.jpg",
    content_type: str = "image/jpeg",
    route: str = "files",
    metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Request, PUT, complete; returns the completed file object."""
    ticket = await request_upload(
        client,
        headers,
        size=len(data),
        name=name,
        content_type=content_type,
        route=route,
        metadata=metadata,
    )
    assert ticket.status_code == 200, ticket.text
    put = await client.put(
        ticket.json()["uploadUrl"], content=data, headers=put_headers(ticket.json(), content_type)
    )
    assert put.status_code in (200, 201, 204), put.text
    done = await client.post(
        "/api/v1/upload/complete", json={"fileId": ticket.json()["fileId"]}, headers=headers
    )
    assert done.status_code == 200, done.text
    return dict(done.json())


async def init_multipart(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    *,
    size: int,
    name: str = "movie.mp4",
    content_type: str = "video/mp4",
    route: str = "files",
    **extra: object,
) -> httpx.Response:
    """``POST /upload/multipart/init``; ``extra`` fields (``metadata``, ``checksum``) as given."""
    body = {
        "fileName": name,
        "fileSize": size,
        "contentType": content_type,
        "routeSlug": route,
        **extra,
    }
    return await client.post("/api/v1/upload/multipart/init", json=body, headers=headers)


def split_parts(data: bytes, part_size: int) -> list[bytes]:
    """``data`` cut into the parts of a multipart ticket's ``partSize``."""
    return [data[i : i + part_size] for i in range(0, len(data), part_size)]


async def put_parts(
    http: httpx.AsyncClient, parts: list[dict[str, Any]], pieces: list[bytes]
) -> list[str]:
    """PUT each piece to its part's URL; the parts' ETags."""
    etags = []
    for part, piece in zip(parts, pieces, strict=True):
        response = await http.put(part["uploadUrl"], content=piece)
        assert response.status_code == 200, response.text
        etags.append(response.headers["etag"])
    return etags


def numbered(etags: list[str]) -> list[dict[str, Any]]:
    """The ``parts`` of a multipart complete for these ETags, part 1 first."""
    return [{"partNumber": number, "etag": etag} for number, etag in enumerate(etags, start=1)]


async def complete_multipart(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    ticket: dict[str, Any],
    parts: list[dict[str, Any]],
    **extra: object,
) -> httpx.Response:
    """``POST /upload/multipart/complete`` of the ticket's upload with these ``parts`` (and
    ``extra`` fields such as ``checksum``); the response, whatever it is."""
    body = {"fileId": ticket["fileId"], "uploadId": ticket["uploadId"], "parts": parts, **extra}
    return await client.post("/api/v1/upload/multipart/complete", json=body, headers=headers)
