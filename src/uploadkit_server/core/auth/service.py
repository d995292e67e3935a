"""API-key authentication: hash the presented key, look the hash up, refuse anything else.

The lookup is by SHA-256 hash through a unique index, and the stored hash is then compared in
constant time, so neither the plaintext nor timing reveals anything about other keys.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from uploadkit_server.core.auth.context import AuthContext
from uploadkit_server.core.keys import repository as keys_repository
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
    """The key's context, read in ``session``'s transaction (so a revocation or a tier change
    committed by any process applies to the very next request)."""
    row = await keys_repository.find_by_hash(session, key_hash)
    if row is None:
        raise Unauthorized("Invalid API key")
    if not signatures_match(row.key_hash, key_hash) or row.revoked_at is not None:
        raise Unauthorized("Invalid API key" if row.revoked_at is None else "API key revoked")
    return AuthContext(
        key_id=row.key_id,
        key_hash=key_hash,
        account_id=row.account_id,
        tier=row.tier,
        custom_rate_limit=row.rate_limit,
        project_id=row.project_id,
        is_test=row.is_test,
    )


__all__ = ["authenticate", "hash_api_key", "key_from_headers"]
