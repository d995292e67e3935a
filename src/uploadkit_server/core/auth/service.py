"""API-key authentication: hash the presented key, look the hash up, refuse anything else.

The lookup is by SHA-256 hash through a unique index, and the stored hash is then compared in
constant time, so neither the plaintext nor timing reveals anything about other keys.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from uploadkit_server.core.auth.context import AuthContext
from uploadkit_server.db.models import Account, ApiKey
from uploadkit_server.errors import Unauthorized
from uploadkit_server.security import hash_api_key, looks_like_api_key, signatures_match


def key_from_headers(x_api_key: str | None, authorization: str | None) -> str:
    """The plaintext key from ``x-api-key`` or ``Authorization: Bearer``.

    Raises ``Unauthorized`` when there is none or it is malformed.
    """
    if x_api_key:
        candidate = x_api_key.strip()
    elif authorization:
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("Authorization header must be 'Bearer uk_…'")
        candidate = token.strip()
    else:
        raise Unauthorized("Missing API key", suggestion="Send your key in the x-api-key header")
    if not looks_like_api_key(candidate):
        raise Unauthorized("Malformed API key: keys start with uk_live_ or uk_test_")
    return candidate


async def authenticate(session: AsyncSession, key_hash: str) -> AuthContext:
    row = (
        await session.execute(
            select(ApiKey, Account)
            .join(Account, Account.id == ApiKey.account_id)
            .where(ApiKey.key_hash == key_hash)
        )
    ).first()
    if row is None:
        raise Unauthorized("Invalid API key")
    api_key, account = row
    if not signatures_match(api_key.key_hash, key_hash) or api_key.revoked_at is not None:
        raise Unauthorized("Invalid API key" if api_key.revoked_at is None else "API key revoked")
    return AuthContext(
        key_id=api_key.id,
        key_hash=key_hash,
        account_id=account.id,
        tier=account.tier,
        custom_rate_limit=account.rate_limit,
        project_id=api_key.project_id,
        is_test=api_key.is_test,
    )


__all__ = ["authenticate", "hash_api_key", "key_from_headers"]
