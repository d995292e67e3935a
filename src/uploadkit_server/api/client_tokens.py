"""Client tokens: ``POST /client-tokens`` (API key), and the upload endpoints' caller, who is
either an API key or a client token (``core/client_tokens/service.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Request

from uploadkit_server.api.deps import (
    ApiKeyAuth,
    RequestRoute,
    SessionDep,
    get_auth,
    get_session,
    key_headers,
    runtime_of,
)
from uploadkit_server.core.auth.context import AuthContext
from uploadkit_server.core.auth.rate_limit import count_request
from uploadkit_server.core.client_tokens.schemas import ClientTokenCreate, ClientTokenRead
from uploadkit_server.core.client_tokens.service import (
    ClientGrant,
    authenticate_client_token,
    bearer_client_token,
    issue_token,
)
from uploadkit_server.core.tiers import rate_limit_for

router = APIRouter(route_class=RequestRoute, tags=["client-tokens"])


@dataclass(frozen=True, slots=True)
class UploadCaller:
    auth: AuthContext
    #: Set when the caller is a browser with a client token; its limits apply on top.
    grant: ClientGrant | None = None


async def get_upload_caller(request: Request) -> UploadCaller:
    """An API key as everywhere else, or a client token counted against the rate limit of the
    key that issued it (a browser cannot outrun its server's key)."""
    x_api_key, authorization = key_headers(request)
    token = None if x_api_key else bearer_client_token(authorization)
    if token is None:
        return UploadCaller(auth=await get_auth(request))
    runtime = runtime_of(request)
    # In the request's transaction, as an API key is (one transaction per request).
    grant = await authenticate_client_token(await get_session(request), token)
    limit = rate_limit_for(grant.auth.tier, grant.auth.custom_rate_limit)
    request.state.rate_limit = await count_request(
        runtime.rate_limiter, grant.auth.key_hash, limit=limit
    )
    request.state.auth = grant.auth
    return UploadCaller(auth=grant.auth, grant=grant)


UploadAuth = Annotated[UploadCaller, Depends(get_upload_caller)]


@router.post("/client-tokens", status_code=201)
async def create_client_token(
    body: ClientTokenCreate, auth: ApiKeyAuth, session: SessionDep
) -> ClientTokenRead:
    return await issue_token(session, auth, body=body)
