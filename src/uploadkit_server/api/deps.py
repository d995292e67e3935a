"""Dependencies shared by every endpoint, declared once as ``Annotated`` aliases.

An endpoint that takes ``ApiKeyAuth`` is authenticated; one that does not is visibly public.
Every dependency here is ``async def``: a plain ``def`` one is run in the thread pool, a hop
per dependency per request. The key is looked up in the request's own transaction (one
``BEGIN``/``COMMIT`` per request); endpoints that open their own units of work instead (tus)
take ``ApiKeyAuthAlone``, whose lookup ends before the endpoint runs.

The request's transaction is opened by its route (``RequestRoute``, the route class of every
router), not by a dependency with ``yield``: FastAPI wraps each such dependency in context
managers and a cancel scope on every request, which cost more than the session itself. The
hot dependencies read the runtime and the session from the request instead of depending on
``RuntimeDep``/``SessionDep``: each dependency node is solved anew on every request.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncSession

from uploadkit_server.core.auth.context import AuthContext
from uploadkit_server.core.auth.rate_limit import count_request
from uploadkit_server.core.auth.service import authenticate, key_from_headers
from uploadkit_server.core.client_tokens.service import refuse_client_token
from uploadkit_server.core.tiers import rate_limit_for
from uploadkit_server.db.session import OnDemandUnitOfWork
from uploadkit_server.errors import Unauthorized
from uploadkit_server.runtime import Runtime
from uploadkit_server.security import hash_api_key
from uploadkit_server.settings import Settings
from uploadkit_server.storage.base import StorageBackend


def runtime_of(request: Request) -> Runtime:
    """The application's runtime (built by its lifespan), for code that has the request."""
    runtime: Runtime = request.app.state.runtime
    return runtime


async def get_runtime(request: Request) -> Runtime:
    return runtime_of(request)


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_settings(runtime: RuntimeDep) -> Settings:
    return runtime.settings


async def get_storage(runtime: RuntimeDep) -> StorageBackend:
    return runtime.storage


SettingsDep = Annotated[Settings, Depends(get_settings)]
StorageDep = Annotated[StorageBackend, Depends(get_storage)]


_UNIT_OF_WORK = "uploadkit.unit_of_work"


class RequestRoute(APIRoute):
    """Runs each request in a unit of work of its own (``OnDemandUnitOfWork``: no session until
    the endpoint or a dependency asks for one), committed when the endpoint has returned,
    before the response is sent; rolled back on error, unless the error is itself a state
    change to keep."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def in_unit_of_work(request: Request) -> Response:
            async with OnDemandUnitOfWork(runtime_of(request).sessionmaker) as work:
                request.scope[_UNIT_OF_WORK] = work
                return await handler(request)

        return in_unit_of_work


async def get_session(request: Request) -> AsyncSession:
    """The request's transaction (see ``RequestRoute``)."""
    work: OnDemandUnitOfWork | None = request.scope.get(_UNIT_OF_WORK)
    if work is None:
        raise RuntimeError(f"{request.url.path}: its router needs route_class=RequestRoute")
    return work.session()


SessionDep = Annotated[AsyncSession, Depends(get_session)]


async def _authenticate(
    request: Request,
    runtime: Runtime,
    session: AsyncSession | None,
    x_api_key: str | None,
    authorization: str | None,
) -> AuthContext:
    """Authenticate the key and count the request against its rate-limit window.

    A key this process knows is counted before any database work (a refused request costs
    one limiter call); an unknown key is authenticated first, so a ``401`` never uses a slot.
    The lookup runs in ``session`` if given, else in a short session of its own.
    The decision is left on ``request.state`` for ``RateLimitHeadersMiddleware``.
    """
    refuse_client_token(authorization)
    key_hash = hash_api_key(key_from_headers(x_api_key, authorization))
    limiter = runtime.rate_limiter
    known_limit = runtime.known_limits.get(key_hash)
    if known_limit is not None:
        request.state.rate_limit = await count_request(limiter, key_hash, limit=known_limit)
    try:
        if session is not None:
            auth = await authenticate(session, key_hash)
        else:
            async with runtime.sessionmaker() as own_session:
                auth = await authenticate(own_session, key_hash)
    except Unauthorized:
        runtime.known_limits.forget(key_hash)  # revoked since: stop counting it
        request.state.rate_limit = None
        raise
    limit = rate_limit_for(auth.tier, auth.custom_rate_limit)
    runtime.known_limits.remember(key_hash, limit)
    if known_limit is None:
        request.state.rate_limit = await count_request(limiter, key_hash, limit=limit)
    runtime.key_usage.record(auth.key_id)
    request.state.auth = auth
    return auth


def key_headers(request: Request) -> tuple[str | None, str | None]:
    """``x-api-key`` and ``Authorization``, read from the request itself: declared as FastAPI
    header parameters they were validated on every request, and the OpenAPI document declares
    them once, as security schemes (``api/openapi.py``)."""
    headers = request.headers
    return headers.get("x-api-key"), headers.get("authorization")


async def get_auth(request: Request) -> AuthContext:
    """The caller, looked up in the request's transaction (the one ``SessionDep`` gives)."""
    session = await get_session(request)
    return await _authenticate(request, runtime_of(request), session, *key_headers(request))


async def get_auth_alone(request: Request) -> AuthContext:
    """The caller, looked up in a transaction of its own that ends before the endpoint runs:
    for endpoints that open their own units of work (on SQLite a request transaction held
    open beside them would make them wait for it)."""
    return await _authenticate(request, runtime_of(request), None, *key_headers(request))


ApiKeyAuth = Annotated[AuthContext, Depends(get_auth)]
ApiKeyAuthAlone = Annotated[AuthContext, Depends(get_auth_alone)]
