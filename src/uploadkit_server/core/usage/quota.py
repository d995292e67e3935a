"""Quota reservations that hold under concurrency on SQLite and PostgreSQL.

Every check is a conditional UPDATE in ``repository.py`` (``… SET n = n + 1 WHERE n + 1 <=
limit``): the database decides atomically, so concurrent requests that together would pass a
limit never all succeed. This module picks the limits, turns a refusal into the error, and
gives back what a file held when it fails or goes (the one place that does). Live storage
counts stored files plus uploads in flight; test mode is counted but never limited.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from uploadkit_server.core.files.repository import FileTrace
from uploadkit_server.core.tiers import limits_for
from uploadkit_server.core.usage import repository
from uploadkit_server.db.models import File
from uploadkit_server.errors import TierLimitExceeded, upgrade_hint


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
    """Hold one monthly upload and ``size`` bytes of storage, or raise ``TierLimitExceeded``."""
    limits = limits_for(tier)
    monthly_limit = None if is_test else limits.uploads_per_month
    taken = await repository.take_upload_slot(
        session, account_id=account_id, is_test=is_test, month=month, limit=monthly_limit
    )
    if (monthly_limit is not None and monthly_limit <= 0) or not taken:
        raise TierLimitExceeded(
            f"Monthly upload limit of {limits.uploads_per_month} reached for the {tier} plan",
            suggestion=upgrade_hint(billing_url),
        )
    storage_limit = None if is_test else limits.storage_bytes
    held = await repository.hold_storage(
        session, account_id=account_id, is_test=is_test, size=size, limit=storage_limit
    )
    if not held:
        raise TierLimitExceeded(
            f"Storage limit of {limits.storage_bytes} bytes reached for the {tier} plan",
            suggestion=upgrade_hint(billing_url),
        )


async def release_slot(session: AsyncSession, file: File) -> None:
    """Give back the file's in-flight upload slot, if it holds one (its upload ended)."""
    if file.reserved_month is not None:
        await repository.release_upload_slot(
            session, account_id=file.account_id, is_test=file.is_test, month=file.reserved_month
        )
        file.reserved_month = None


async def release_reservation(session: AsyncSession, file: File) -> None:
    """Give back all the file holds in its account's counters: an in-flight upload slot, and
    its stored or reserved bytes. Zeroes the file's own figures, so a second call releases
    nothing. The slot goes first: the rows are then locked in the order ``reserve_upload``
    locks them (PostgreSQL), so a release and a presign of one account cannot deadlock."""
    await release_slot(session, file)
    await repository.release_storage(
        session, account_id=file.account_id, is_test=file.is_test, size=file.reserved_bytes
    )
    file.reserved_bytes = 0


async def release_reservations(session: AsyncSession, files: Sequence[FileTrace]) -> None:
    """``release_reservation`` for many files whose rows go (project deletion, test-mode purge):
    the bytes in one update per account and mode, the slots (only uploads in flight: few) one
    by one. Slots first, as above."""
    held: defaultdict[tuple[str, bool], int] = defaultdict(int)
    for file in files:
        held[(file.account_id, file.is_test)] += file.reserved_bytes
        if file.reserved_month is not None:
            await repository.release_upload_slot(
                session, account_id=file.account_id, is_test=file.is_test, month=file.reserved_month
            )
    for (account_id, is_test), size in sorted(held.items()):
        await repository.release_storage(session, account_id=account_id, is_test=is_test, size=size)
