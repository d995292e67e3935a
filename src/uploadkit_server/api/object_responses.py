"""Answering ``GET`` and ``HEAD`` of a stored object: validators, caching headers, ranges and
the streamed body. The CDN and the image-variant endpoints answer the same way."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing

from fastapi import Request

from uploadkit_server.api.http_ranges import (
    Unsatisfiable,
    http_date,
    not_modified,
    parse_range,
    range_applies,
)
from uploadkit_server.errors import RangeNotSatisfiable
from uploadkit_server.storage.base import ByteRange, ObjectInfo, ObjectNotFound, StorageBackend

#: Types a browser shows without running anything of the file's own: served inline. Every
#: other type (HTML, SVG, XML, JavaScript, anything unknown) could run script in the origin
#: that serves it, so it is a download in a sandbox (issue 12 finding 10).
PASSIVE_TYPES = frozenset(
    {
        "text/plain",
        "text/csv",
        "application/json",
        "application/pdf",
        "application/octet-stream",
    }
)
PASSIVE_FAMILIES = ("image/", "audio/", "video/")
#: Not an image: SVG is XML that may carry script.
ACTIVE_IMAGES = frozenset({"image/svg+xml"})
#: No script, no plugins, no forms, no same-origin access, even when opened directly.
SANDBOX_POLICY = "sandbox; default-src 'none'; style-src 'unsafe-inline'"


def is_active_content(content_type: str) -> bool:
    """Whether a stored type may run script in a browser (or is unknown): anything not known
    to be passive. Parameters (``; charset=``) and case do not matter."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type in ACTIVE_IMAGES:
        return True
    return not (media_type in PASSIVE_TYPES or media_type.startswith(PASSIVE_FAMILIES))


def active_content_headers(content_type: str) -> dict[str, str]:
    """``Content-Disposition: attachment`` and a sandboxing CSP for active types, else none."""
    if not is_active_content(content_type):
        return {}
    return {"Content-Disposition": "attachment", "Content-Security-Policy": SANDBOX_POLICY}


def object_headers(info: ObjectInfo, *, cache_control: str) -> dict[str, str]:
    return {
        "ETag": info.etag,
        "Last-Modified": http_date(info.last_modified),
        "Cache-Control": cache_control,
        "Accept-Ranges": "bytes",
        # Stored bytes are served as their stored type, never sniffed into something else.
        "X-Content-Type-Options": "nosniff",
        **active_content_headers(info.content_type),
    }


def is_not_modified(request: Request, info: ObjectInfo) -> bool:
    return not_modified(
        if_none_match=request.headers.get("if-none-match"),
        if_modified_since=request.headers.get("if-modified-since"),
        info=info,
    )


def requested_range(request: Request, info: ObjectInfo, *, noun: str) -> ByteRange | None:
    """The range to send (``None``: the whole object); ``416`` when it starts past the end."""
    if not range_applies(if_range=request.headers.get("if-range"), info=info):
        return None
    try:
        return parse_range(request.headers.get("range"), info.size)
    except Unsatisfiable:
        raise RangeNotSatisfiable(
            f"The range starts past the end of the {noun} ({info.size} bytes)",
            headers={"Content-Range": f"bytes */{info.size}"},
        ) from None


def describe_body(
    headers: dict[str, str], info: ObjectInfo, byte_range: ByteRange | None
) -> tuple[int, int]:
    """Add the body's headers; return the status (200 or 206) and the body's length."""
    status, length = 200, info.size
    if byte_range is not None:
        status, length = 206, byte_range.length
        headers["Content-Range"] = f"bytes {byte_range.start}-{byte_range.end}/{info.size}"
    headers["Content-Length"] = str(length)
    headers["Content-Type"] = info.content_type
    return status, length


async def open_body(
    storage: StorageBackend, key: str, byte_range: ByteRange | None
) -> AsyncIterator[bytes] | None:
    """The object's bytes, or ``None`` if it is gone. The first chunk is read now, so an object
    deleted since it was looked up is still a clean ``404`` rather than a broken response."""
    chunks = storage.read(key, byte_range=byte_range)
    try:
        first = await anext(chunks)
    except (ObjectNotFound, StopAsyncIteration):
        return None
    return _stream(chunks, first)


async def _stream(chunks: AsyncIterator[bytes], first: bytes) -> AsyncIterator[bytes]:
    async with aclosing(chunks):  # type: ignore[type-var]
        yield first
        async for chunk in chunks:
            yield chunk
