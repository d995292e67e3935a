"""Client token rows, and the one query a token needs about a file."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from uploadkit_server.db.models import Account, ApiKey, ClientToken
from uploadkit_server.db.session import affected_rows


async def find_by_hash(
    session: AsyncSession, token_hash: str
) -> tuple[ClientToken, ApiKey | None, Account] | None:
    """The token, the key that issued it (None for dashboard tokens) and the account."""
    row = (
        await session.execute(
            select(ClientToken, ApiKey, Account)
            .outerjoin(ApiKey, ApiKey.id == ClientToken.api_key_id)
            .join(Account, Account.id == ClientToken.account_id)
            .where(ClientToken.token_hash == token_hash)
        )
    ).first()
    if row is None:
        return None
    token, api_key, account = row
    return token, api_key, account


async def count_upload(session: AsyncSession, token_id: str) -> bool:
    """Take one file from the token's budget; False when it is spent. One conditional UPDATE,
    so concurrent requests cannot overspend it."""
    result = await session.execute(
        update(ClientToken)
        .where(ClientToken.id == token_id, ClientToken.uploads_started < ClientToken.max_file_count)
        .values(uploads_started=ClientToken.uploads_started + 1)
        .execution_options(synchronize_session=False)
    )
    return affected_rows(result) > 0


async def delete_expired(session: AsyncSession, *, now: datetime) -> int:
    result = await session.execute(delete(ClientToken).where(ClientToken.expires_at < now))
    return affected_rows(result)


async def add_token(session: AsyncSession, token: ClientToken) -> None:
    session.add(token)
    await session.flush()
