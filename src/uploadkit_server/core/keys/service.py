"""API keys: minted here, shown once, stored only as a SHA-256 hash and a masked prefix."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from uploadkit_server.clock import utcnow
from uploadkit_server.core.auth.context import AuthContext
from uploadkit_server.core.auth.sandbox import LiveOnly, require_live
from uploadkit_server.core.keys import repository
from uploadkit_server.core.projects.repository import lock_account
from uploadkit_server.core.projects.service import get_project
from uploadkit_server.core.tiers import limits_for
from uploadkit_server.db.models import ApiKey, Project
from uploadkit_server.errors import NotFound, TierLimitExceeded, upgrade_hint
from uploadkit_server.security import generate_api_key, hash_api_key, mask_api_key, new_id


@dataclass(frozen=True, slots=True)
class CreatedKey:
    api_key: ApiKey
    plaintext: str


async def create_key(
    session: AsyncSession,
    auth: AuthContext,
    *,
    project_id: str,
    name: str = "",
    is_test: bool = False,
    billing_url: str | None = None,
) -> CreatedKey:
    """A new key for one of ``auth``'s account's projects (another account's is ``NotFound``).
    A test key may mint test keys only."""
    project = await get_project(session, account_id=auth.account_id, project_id=project_id)
    if not is_test:
        require_live(auth, LiveOnly.CREATE_LIVE_KEY)
    return await mint_key(
        session, project=project, name=name, is_test=is_test, billing_url=billing_url
    )


async def mint_key(
    session: AsyncSession,
    *,
    project: Project,
    name: str = "",
    is_test: bool = False,
    billing_url: str | None = None,
) -> CreatedKey:
    """A new key for ``project`` within the tier's limit, with no caller to check: the
    operator's (``uploadkit admin``, account creation) and ``create_key``'s last step."""
    account = await lock_account(session, project.account_id)
    if account is None:
        raise NotFound("Account not found")
    limit = limits_for(account.tier).keys_per_project
    if limit is not None and await repository.count_usable(session, project.id) >= limit:
        raise TierLimitExceeded(
            f"Your {account.tier} plan allows {limit} API keys per project",
            suggestion=upgrade_hint(billing_url),
        )
    plaintext = generate_api_key(is_test=is_test)
    api_key = ApiKey(
        id=new_id("key"),
        project_id=project.id,
        account_id=project.account_id,
        name=name,
        key_hash=hash_api_key(plaintext),
        key_prefix=mask_api_key(plaintext),
        is_test=is_test,
    )
    await repository.add_key(session, api_key)
    return CreatedKey(api_key=api_key, plaintext=plaintext)


async def list_keys(session: AsyncSession, auth: AuthContext, *, project_id: str) -> list[ApiKey]:
    """The usable keys of one of the account's projects, oldest first (revoked keys are gone
    for good)."""
    project = await get_project(session, account_id=auth.account_id, project_id=project_id)
    return await repository.list_usable(session, project.id)


async def revoke_key(session: AsyncSession, auth: AuthContext, *, key_id: str) -> ApiKey:
    """Revoke one of the account's keys; authentication refuses it from the next request on.
    An unknown key, one of another account, or one already revoked is ``NotFound``. A test key
    may revoke test keys only."""
    api_key = await repository.lock_usable(session, account_id=auth.account_id, key_id=key_id)
    if api_key is None:
        raise NotFound(f"No API key {key_id}")
    if not api_key.is_test:
        require_live(auth, LiveOnly.REVOKE_LIVE_KEY)
    await repository.revoke(session, api_key, at=utcnow())
    return api_key
