"""Client tokens: a server holding an API key lets a browser upload, without the key.

``POST /api/v1/client-tokens`` mints ``ukct_…`` for one route of the key's project, with a
file budget (``maxFileCount``), an optional per-file size cap and optional fixed metadata. The
browser sends it as ``Authorization: Bearer`` to ``/upload/request``, ``/upload/complete`` and
the multipart endpoints; every other endpoint refuses it (``403``).

Tokens are database rows holding only a SHA-256 of the token, like API keys, so the budget
can be counted. Revocation: a token stops working when it expires (default 10 minutes, at
most an hour) or when the API key that minted it is revoked; there is no other state to
clear (expired rows are deleted by ``jobs/client_token_purge.py``). The upload itself then goes
through ``UploadService`` unchanged, under the minting key's project, mode and tier, so every
route, type, size and quota rule is the API's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from uploadkit_server.clock import utcnow
from uploadkit_server.core.auth.context import AuthContext
from uploadkit_server.core.client_tokens import repository
from uploadkit_server.core.client_tokens.schemas import ClientTokenCreate, ClientTokenRead
from uploadkit_server.core.file_routes.repository import get_by_slug
from uploadkit_server.core.files import repository as files_repository
from uploadkit_server.core.uploads.schemas import UploadRequest
from uploadkit_server.db.models import ClientToken
from uploadkit_server.errors import (
    FileTooLarge,
    Forbidden,
    NotFound,
    Unauthorized,
    UploadNotFound,
)
from uploadkit_server.security import (
    CLIENT_TOKEN_PREFIX,
    generate_client_token,
    hash_api_key,
    looks_like_client_token,
    new_id,
    signatures_match,
)


def bearer_client_token(authorization: str | None) -> str | None:
    """The ``ukct_…`` token of an ``Authorization: Bearer`` header, or None."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() == "bearer" and token.startswith(CLIENT_TOKEN_PREFIX):
        return token
    return None


def refuse_client_token(authorization: str | None) -> None:
    """Called by the API-key dependency: a client token opens the upload endpoints only."""
    if bearer_client_token(authorization) is not None:
        raise Forbidden(
            "Client tokens can only be used for uploads of their route",
            suggestion="Call this endpoint from your server with an API key",
        )


@dataclass(frozen=True, slots=True)
class ClientGrant:
    """What a client token allows: the minting key's identity, narrowed to one route."""

    auth: AuthContext
    token_id: str
    route_slug: str
    metadata: dict[str, Any] | None
    max_file_size: int | None


async def issue_token(
    session: AsyncSession, auth: AuthContext, *, body: ClientTokenCreate, with_key: bool = True
) -> ClientTokenRead:
    """Mint a token under ``auth``'s project and mode. ``with_key=False`` is the dashboard's
    own token (its caller is a signed-in user, not a key): it lives until it expires."""
    route = await get_by_slug(session, auth.project_id, body.route_slug)
    if route is None:
        raise NotFound(f"File route '{body.route_slug}' not found in this project")
    plaintext = generate_client_token()
    token = ClientToken(
        id=new_id("ct"),
        token_hash=hash_api_key(plaintext),
        api_key_id=auth.key_id if with_key else None,
        account_id=auth.account_id,
        project_id=auth.project_id,
        is_test=auth.is_test,
        route_slug=route.slug,
        metadata_=body.metadata,
        max_file_count=body.max_file_count,
        max_file_size=body.max_file_size,
        uploads_started=0,
        expires_at=utcnow() + timedelta(seconds=body.expires_in),
    )
    await repository.add_token(session, token)
    return ClientTokenRead(
        id=token.id,
        token=plaintext,
        route_slug=token.route_slug,
        metadata=token.metadata_,
        max_file_count=token.max_file_count,
        max_file_size=token.max_file_size,
        expires_at=token.expires_at,
    )


async def authenticate_client_token(session: AsyncSession, plaintext: str) -> ClientGrant:
    if not looks_like_client_token(plaintext):
        raise Unauthorized("Malformed client token: tokens start with ukct_")
    token_hash = hash_api_key(plaintext)
    found = await repository.find_by_hash(session, token_hash)
    if found is None or not signatures_match(found[0].token_hash, token_hash):
        raise Unauthorized("Invalid client token")
    token, api_key, account = found
    if api_key is not None and api_key.revoked_at is not None:
        raise Unauthorized("Client token revoked: the API key that issued it was revoked")
    if token.expires_at <= utcnow():
        raise Unauthorized(
            "Client token expired", suggestion="Ask your server for a new client token"
        )
    # Counted against the issuing key's window; a dashboard token has a window of its own.
    auth = AuthContext(
        key_id=api_key.id if api_key is not None else token.id,
        key_hash=api_key.key_hash if api_key is not None else token_hash,
        account_id=account.id,
        tier=account.tier,
        custom_rate_limit=account.rate_limit,
        project_id=token.project_id,
        is_test=token.is_test,
    )
    return ClientGrant(
        auth=auth,
        token_id=token.id,
        route_slug=token.route_slug,
        metadata=token.metadata_,
        max_file_size=token.max_file_size,
    )


def fixed_metadata(grant: ClientGrant, sent: dict[str, Any] | None) -> dict[str, Any] | None:
    """The browser's metadata with the token's fixed keys laid over it (the token wins)."""
    if not grant.metadata:
        return sent
    return {**(sent or {}), **grant.metadata}


async def admit_request(
    session: AsyncSession, grant: ClientGrant, body: UploadRequest
) -> UploadRequest:
    """Check a new upload against the token and take one file from its budget. The budget is
    taken in the request's transaction, so an upload the service then refuses gives it back."""
    if body.route_slug != grant.route_slug:
        raise Forbidden(
            f"This client token is for route '{grant.route_slug}', not '{body.route_slug}'"
        )
    if grant.max_file_size is not None and body.file_size > grant.max_file_size:
        raise FileTooLarge(
            f"File is {body.file_size} bytes; this client token allows {grant.max_file_size}"
        )
    if not await repository.count_upload(session, grant.token_id):
        raise Forbidden(
            "This client token's file budget is spent",
            suggestion="Ask your server for a new client token",
        )
    return body.model_copy(update={"metadata": fixed_metadata(grant, body.metadata)})


async def check_file(session: AsyncSession, grant: ClientGrant, file_id: str) -> None:
    """A token reaches only uploads of its own route (others look absent, as in another
    project)."""
    slug = await files_repository.route_slug_of(
        session, project_id=grant.auth.project_id, file_id=file_id
    )
    if slug != grant.route_slug:
        raise UploadNotFound(f"No upload with fileId {file_id}")
