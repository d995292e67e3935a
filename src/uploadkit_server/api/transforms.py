"""Image transformations: ``POST /api/v1/transforms/image`` makes a variant URL; ``/t/…`` (signed,
expiring) and ``/p/…`` (public, stable) serve it, generating it on first use.

The serving endpoints take no API key: the URL's signature is the authorisation, checked before
anything is looked up. Variants are streamed from storage on every backend (also S3: the URL,
its ``Vary`` and its caching headers stay this server's), with ``ETag``, ``Last-Modified``,
conditional requests and single ranges.
"""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import StreamingResponse

from uploadkit_server.api.deps import (
    ApiKeyAuth,
    RequestRoute,
    RuntimeDep,
    SessionDep,
    SettingsDep,
    StorageDep,
)
from uploadkit_server.api.object_responses import (
    describe_body,
    is_not_modified,
    object_headers,
    open_body,
    requested_range,
)
from uploadkit_server.core.transforms import service
from uploadkit_server.core.transforms.delivery import StoredVariant, Transformer
from uploadkit_server.core.transforms.schemas import TransformCreate, TransformRead
from uploadkit_server.core.transforms.signing import Delivery
from uploadkit_server.errors import NotFound
from uploadkit_server.storage.base import ObjectInfo, StorageBackend

#: ``/p/`` URLs never change what they point at: a variant is immutable.
PUBLIC_CACHE_CONTROL = "public, max-age=31536000, immutable"
#: ``/t/`` URLs are private to their holder and cached no longer than this (nor past ``exp``).
SIGNED_MAX_AGE = 3600

router = APIRouter(route_class=RequestRoute, tags=["transforms"])
public_router = APIRouter(route_class=RequestRoute, tags=["transforms"])


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
        session, auth, body=body, settings=settings, signer=transformer.signer
    )


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
    headers = object_headers(info, cache_control=cache_control)
    if variant.negotiated:
        headers["Vary"] = "Accept"
    if is_not_modified(request, info):
        return Response(status_code=304, headers=headers)
    byte_range = requested_range(request, info, noun="image")
    status, _length = describe_body(headers, info, byte_range)
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers)
    body = await open_body(storage, variant.object_key, byte_range)
    if body is None:
        return None
    return StreamingResponse(body, status_code=status, headers=headers)


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
