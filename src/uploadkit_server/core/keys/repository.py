"""API key rows: the lookup authentication makes, listing, counting, revoking, ``lastUsedAt``.

The lookup runs on every API request, so its statement is built once (``bindparam`` for the
hash) and run on the driver connection of the session's transaction (``db/driver.py``).
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Select, Table, bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from uploadkit_server.db.driver import DriverStatement
from uploadkit_server.db.models import Account, ApiKey


class KeyRow(NamedTuple):
    key_id: str
    key_hash: str
    revoked_at: datetime | None
    project_id: str
    is_test: bool
    account_id: str
    tier: str
    rate_limit: int | None


def _by_hash() -> Select[str, str, datetime | None, str, bool, str, str, int | None]:
    return (
        select(
            ApiKey.id,
            ApiKey.key_hash,
            ApiKey.revoked_at,
            ApiKey.project_id,
            ApiKey.is_test,
            Account.id,
            Account.tier,
            Account.rate_limit,
        )
        .join(Account, Account.id == ApiKey.account_id)
        .where(ApiKey.key_hash == bindparam("key_hash"))
    )


_BY_HASH = DriverStatement(lambda _dialect: _by_hash())


async def find_by_hash(session: AsyncSession, key_hash: str) -> KeyRow | None:
    """The key with this SHA-256 hash and its account's tier, in the session's transaction."""
    row = await _BY_HASH.first(session, {"key_hash": key_hash})
    return None if row is None else KeyRow(*row)


async def count_usable(session: AsyncSession, project_id: str) -> int:
    """Keys of the project that are not revoked."""
    count = await session.scalar(
        select(func.count())
        .select_from(ApiKey)
        .where(ApiKey.project_id == project_id, ApiKey.revoked_at.is_(None))
    )
    return int(count or 0)


async def list_usable(session: AsyncSession, project_id: str) -> list[ApiKey]:
    """The project's keys that are not revoked, oldest first."""
    result = await session.scalars(
        select(ApiKey)
        .where(ApiKey.project_id == project_id, ApiKey.revoked_at.is_(None))
        .order_by(ApiKey.pk)
    )
    return list(result)


async def lock_usable(session: AsyncSession, *, account_id: str, key_id: str) -> ApiKey | None:
    """The account's key ``key_id`` unless revoked, locked for the change that follows."""
    api_key: ApiKey | None = await session.scalar(
        select(ApiKey)
        .where(ApiKey.id == key_id, ApiKey.account_id == account_id, ApiKey.revoked_at.is_(None))
        .with_for_update()
    )
    return api_key


async def write_last_used(session: AsyncSession, pending: dict[str, datetime]) -> None:
    """Move each key's ``last_used_at`` forward to its moment (never back)."""
    if not pending:
        return
    keys = ApiKey.__table__
    assert isinstance(keys, Table)
    # One executemany of a Core UPDATE; sorted ids take row locks in a stable order.
    statement = (
        update(keys)
        .where(keys.c.id == bindparam("key_id"))
        .where(or_(keys.c.last_used_at.is_(None), keys.c.last_used_at < bindparam("moment")))
        .values(last_used_at=bindparam("moment"))
    )
    rows = [{"key_id": key_id, "moment": moment} for key_id, moment in sorted(pending.items())]
    connection = await session.connection()
    await connection.execute(statement, rows)


async def add_key(session: AsyncSession, api_key: ApiKey) -> None:
    session.add(api_key)
    await session.flush()


async def revoke(session: AsyncSession, api_key: ApiKey, *, at: datetime) -> None:
    api_key.revoked_at = at
    await session.flush()
