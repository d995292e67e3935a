"""Image transformations: ``POST /api/v1/transforms/image`` makes a variant URL; ``/t/…`` (signed,
expiring) and ``/p/…`` (public, stable) serve it, generating it on first use.

The serving endpoints take no API key: the URL's signature is the authorisation, checked before
anything is looked up. Variants are streamed from storage on every backend (also S3: the URL,
its ``Vary`` and its caching headers stay this server's), with ``ETag``, ``Last-Modified``,
conditional requests and single ranges.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import StreamingResponse

from uploadkit_server.api.deps import (
    ApiKeyAuth,
    RuntimeDep,
    SessionDep,
    SettingsDep,
    StorageDep,
)
from uploadkit_server.api.http_ranges import (
    Unsatisfiable,
    http_date,
    not_modified,
    parse_range,
    range_applies,
)
from uploadkit_server.core.transforms import service
from uploadkit_server.core.transforms.delivery import StoredVariant, Transformer
from uploadkit_server.core.transforms.schemas import TransformCreate, TransformRead
from uploadkit_server.core.transforms.signing import Delivery
from uploadkit_server.errors import NotFound, RangeNotSatisfiable
from uploadkit_server.storage.base import ObjectInfo, ObjectNotFound, StorageBackend

#: ``/p/`` URLs never change what they point at: a variant is immutable.
PUBLIC_CACHE_CONTROL = "public, max-age=31536000, immutable"
#: ``/t/`` URLs are private to their holder and cached no longer than this (nor past ``exp``).
SIGNED_MAX_AGE = 3600

router = APIRouter(tags=["transforms"])
public_router = APIRouter(tags=["transforms"])


async def get_transformer(runtime: RuntimeDep) -> Transformer:
    assert runtime.transformer is not None, "build_runtime makes the transformer"
    return runtime.transformer


TransformerDep = Annotated[Transformer, Depends(get_transformer)]


@router.post("/transforms/image")
async def create_image_transform(
    body: TransformCreate,
    auth: ApiKeyAuth,
    session: SessionDep,
    settings: SettingsDep,
    transformer: TransformerDep,
) -> TransformRead:
    return await service.create_transform(
        session, auth, body, settings=settings, signer=transformer.signer
    )


async def _stream(chunks: AsyncIterator[bytes], first: bytes) -> AsyncIterator[bytes]:
    async with aclosing(chunks):  # type: ignore[type-var]
        yield first
        async for chunk in chunks:
            yield chunk


def _cache_control(delivery: Delivery, exp: str | None, now: float) -> str:
    if delivery is Delivery.PUBLIC:
        return PUBLIC_CACHE_CONTROL
    remaining = int(exp or 0) - int(now)
    return f"private, max-age={max(0, min(SIGNED_MAX_AGE, remaining))}"


async def _serve(
    delivery: Delivery,
    sig: str,
    recipe: str,
    key: str,
    request: Request,
    transformer: Transformer,
    storage: StorageBackend,
) -> Response:
    exp = request.query_params.get("exp")
    parsed = transformer.check_url(delivery, sig, recipe, key, exp)
    accept = request.headers.get("accept")
    # Answers without a body do not read storage, so they must not rely on a remembered variant.
    headers = request.headers
    fresh = request.method == "HEAD" or any(
        name in headers for name in ("if-none-match", "if-modified-since")
    )
    for attempt in range(2):
        variant = await transformer.variant(parsed, key, accept=accept, fresh=fresh)
        cache_control = _cache_control(delivery, exp, time.time())
        response = await _respond(variant, request, storage, cache_control)
        if response is not None:
            return response
        if attempt == 0:  # the stored object vanished: make it again, once
            await transformer.forget(variant)
    raise NotFound("File not found")


async def _respond(
    variant: StoredVariant, request: Request, storage: StorageBackend, cache_control: str
) -> Response | None:
    """The response for a stored variant; ``None`` if its object is missing from storage."""
    info = ObjectInfo(
        size=variant.size,
        content_type=variant.content_type,
        etag=variant.etag,
        last_modified=variant.last_modified,
    )
    headers = {
        "ETag": info.etag,
        "Last-Modified": http_date(info.last_modified),
        "Cache-Control": cache_control,
        "Accept-Ranges": "bytes",
        "X-Content-Type-Options": "nosniff",
    }
    if variant.negotiated:
        headers["Vary"] = "Accept"
    if not_modified(
        if_none_match=request.headers.get("if-none-match"),
        if_modified_since=request.headers.get("if-modified-since"),
        info=info,
    ):
        return Response(status_code=304, headers=headers)
    byte_range = None
    if range_applies(if_range=request.headers.get("if-range"), info=info):
        try:
            byte_range = parse_range(request.headers.get("range"), info.size)
        except Unsatisfiable:
            raise RangeNotSatisfiable(
                f"The range starts past the end of the image ({info.size} bytes)",
                headers={"Content-Range": f"bytes */{info.size}"},
            ) from None
    status, length = 200, info.size
    if byte_range is not None:
        status, length = 206, byte_range.length
        headers["Content-Range"] = f"bytes {byte_range.start}-{byte_range.end}/{info.size}"
    headers["Content-Length"] = str(length)
    headers["Content-Type"] = info.content_type
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers)
    chunks = storage.read(variant.object_key, byte_range=byte_range)
    try:
        first = await anext(chunks)
    except (ObjectNotFound, StopAsyncIteration):
        return None
    return StreamingResponse(_stream(chunks, first), status_code=status, headers=headers)


@public_router.api_route("/t/{sig}/{recipe}/{key:path}", methods=["GET", "HEAD"])
async def signed_variant(
    sig: str,
    recipe: str,
    key: str,
    request: Request,
    transformer: TransformerDep,
    storage: StorageDep,
) -> Response:
    """A variant behind a signed, expiring URL: ``403`` when edited or expired."""
    return await _serve(Delivery.SIGNED, sig, recipe, key, request, transformer, storage)


@public_router.api_route("/p/{sig}/{recipe}/{key:path}", methods=["GET", "HEAD"])
async def public_variant(
    sig: str,
    recipe: str,
    key: str,
    request: Request,
    transformer: TransformerDep,
    storage: StorageDep,
) -> Response:
    """A variant behind a stable public URL: cached by anyone, forever."""
    return await _serve(Delivery.PUBLIC, sig, recipe, key, request, transformer, storage)
