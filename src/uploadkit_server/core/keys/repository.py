"""API key rows as authentication reads them.

The lookup runs on every API request, so its statement is built once (``bindparam`` for the
hash) and executed on the session's connection: no statement construction, no cache-key
generation and no ORM objects per request, only the compiled-statement cache hit.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import NamedTuple

from sqlalchemy import Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

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


@cache
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


async def find_by_hash(session: AsyncSession, key_hash: str) -> KeyRow | None:
    """The key with this SHA-256 hash and its account's tier, in the session's transaction."""
    connection = await session.connection()
    row = (await connection.execute(_by_hash(), {"key_hash": key_hash})).first()
    return None if row is None else KeyRow(*row)
