"""Quota reservations that hold under concurrency on SQLite and PostgreSQL.

Every check is a conditional UPDATE (``… SET n = n + 1 WHERE n + 1 <= limit``): the database
decides atomically, so concurrent requests that together would pass a limit never all succeed.
Live storage counts stored files plus uploads in flight; test mode is counted but never limited.
"""

from __future__ import annotations

from functools import cache

from sqlalchemy import ColumnElement, Insert, Update, bindparam, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from uploadkit_server.core.tiers import limits_for
from uploadkit_server.core.usage.served import UsageCell
from uploadkit_server.db.models import Account, UsageMonth
from uploadkit_server.db.session import dialect_name, upsert_insert
from uploadkit_server.errors import TierLimitExceeded


def _upgrade_hint(billing_url: str) -> str:
    return f"Upgrade your plan at {billing_url}"


async def ensure_usage_month(
    session: AsyncSession, *, account_id: str, is_test: bool, month: str
) -> None:
    values = {
        "account_id": account_id,
        "is_test": is_test,
        "month": month,
        "uploads": 0,
        "uploads_in_flight": 0,
        "bytes_uploaded": 0,
        "bytes_served": 0,
    }
    insert = upsert_insert(session)
    await session.execute(insert(UsageMonth).values(**values).on_conflict_do_nothing())


def _usage_row(account_id: str, is_test: bool, month: str) -> tuple[ColumnElement[bool], ...]:
    return (
        UsageMonth.account_id == account_id,
        UsageMonth.is_test == is_test,
        UsageMonth.month == month,
    )


@cache
def _take_slot(dialect: str, *, limited: bool) -> Insert:
    """Create the month's row or take a slot in it, only below the limit: when the row exists
    and is full, the ``WHERE`` of ``DO UPDATE`` leaves it and nothing is returned. Built once
    per dialect and kind (``bindparam`` values), as it runs on every presign."""
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(UsageMonth).values(
        account_id=bindparam("p_account_id"),
        is_test=bindparam("p_is_test"),
        month=bindparam("p_month"),
        uploads=0,
        uploads_in_flight=1,
        bytes_uploaded=0,
        bytes_served=0,
    )
    below_limit = UsageMonth.uploads + UsageMonth.uploads_in_flight < bindparam("p_limit")
    return statement.on_conflict_do_update(
        index_elements=[UsageMonth.account_id, UsageMonth.is_test, UsageMonth.month],
        set_={"uploads_in_flight": UsageMonth.uploads_in_flight + 1},
        where=below_limit if limited else None,
    ).returning(UsageMonth.uploads_in_flight)


@cache
def _hold_storage(*, is_test: bool, limited: bool) -> Update:
    """Add ``p_size`` bytes to the account's (live or test) storage, only within ``p_limit``."""
    column = Account.test_storage_bytes if is_test else Account.storage_bytes
    statement = update(Account).where(Account.id == bindparam("p_account_id"))
    if limited:
        statement = statement.where(
            Account.storage_bytes + bindparam("p_size") <= bindparam("p_limit")
        )
    return statement.values({column: column + bindparam("p_size")})


async def reserve_upload(
    session: AsyncSession,
    *,
    account_id: str,
    tier: str,
    is_test: bool,
    size: int,
    month: str,
    billing_url: str,
) -> None:
    """Hold one monthly upload and ``size`` bytes of storage, or raise ``TierLimitExceeded``.

    Two statements on the session's connection (Core: these run on every presign, and the
    ORM's bulk-update layer has nothing to synchronise here)."""
    limits = limits_for(tier)
    connection = await session.connection()
    monthly_limit = None if is_test else limits.uploads_per_month
    take_slot = _take_slot(dialect_name(session), limited=monthly_limit is not None)
    taken = await connection.execute(
        take_slot,
        {
            "p_account_id": account_id,
            "p_is_test": is_test,
            "p_month": month,
            "p_limit": monthly_limit,
        },
    )
    if (monthly_limit is not None and monthly_limit <= 0) or taken.first() is None:
        raise TierLimitExceeded(
            f"Monthly upload limit of {limits.uploads_per_month} reached for the {tier} plan",
            suggestion=_upgrade_hint(billing_url),
        )
    storage_limit = None if is_test else limits.storage_bytes
    held = await connection.execute(
        _hold_storage(is_test=is_test, limited=storage_limit is not None),
        {"p_account_id": account_id, "p_size": size, "p_limit": storage_limit},
    )
    if held.rowcount != 1:
        raise TierLimitExceeded(
            f"Storage limit of {limits.storage_bytes} bytes reached for the {tier} plan",
            suggestion=_upgrade_hint(billing_url),
        )


async def release_storage(
    session: AsyncSession, *, account_id: str, is_test: bool, size: int
) -> None:
    if size <= 0:
        return
    column = Account.test_storage_bytes if is_test else Account.storage_bytes
    await session.execute(
        update(Account).where(Account.id == account_id).values({column: column - size}),
        execution_options={"synchronize_session": False},
    )


async def release_upload_slot(
    session: AsyncSession, *, account_id: str, is_test: bool, month: str
) -> None:
    await session.execute(
        update(UsageMonth)
        .where(*_usage_row(account_id, is_test, month), UsageMonth.uploads_in_flight > 0)
        .values(uploads_in_flight=UsageMonth.uploads_in_flight - 1),
        execution_options={"synchronize_session": False},
    )


async def count_completed_upload(
    session: AsyncSession, *, account_id: str, is_test: bool, month: str, size: int
) -> None:
    await ensure_usage_month(session, account_id=account_id, is_test=is_test, month=month)
    await session.execute(
        update(UsageMonth)
        .where(*_usage_row(account_id, is_test, month))
        .values(uploads=UsageMonth.uploads + 1, bytes_uploaded=UsageMonth.bytes_uploaded + size),
        execution_options={"synchronize_session": False},
    )


async def add_served_bytes(session: AsyncSession, pending: dict[UsageCell, int]) -> None:
    """Add the bytes the CDN served to each cell's month (``served.ServedBytesRecorder``)."""
    # A stable order, so two processes flushing at once take row locks in the same order.
    for cell in sorted(pending, key=lambda c: (c.account_id, c.is_test, c.month)):
        nbytes = pending[cell]
        await ensure_usage_month(
            session, account_id=cell.account_id, is_test=cell.is_test, month=cell.month
        )
        await session.execute(
            update(UsageMonth)
            .where(*_usage_row(cell.account_id, cell.is_test, cell.month))
            .values(bytes_served=UsageMonth.bytes_served + nbytes),
            execution_options={"synchronize_session": False},
        )
