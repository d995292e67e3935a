"""Bytes the CDN serves, counted per account, mode and month without a write per request.

The CDN endpoint looks up whose file it serves (one indexed read), then counts the bytes as they
actually leave (a client that hangs up early is charged for what it got). The counts gather in
memory and a periodic job adds them to ``usage_months.bytes_served`` in one transaction; a
process that dies loses at most one job interval of counts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from uploadkit_server.clock import month_of, utcnow
from uploadkit_server.core.usage.quota import ensure_usage_month
from uploadkit_server.db.models import File, FileStatus, UsageMonth


@dataclass(frozen=True, slots=True)
class UsageCell:
    account_id: str
    is_test: bool
    month: str


class ServedBytesRecorder:
    def __init__(self) -> None:
        self._served: defaultdict[UsageCell, int] = defaultdict(int)

    def add(self, cell: UsageCell, nbytes: int) -> None:
        self._served[cell] += nbytes

    def take(self) -> dict[UsageCell, int]:
        taken, self._served = dict(self._served), defaultdict(int)
        return taken

    def give_back(self, pending: dict[UsageCell, int]) -> None:
        for cell, nbytes in pending.items():
            self._served[cell] += nbytes


async def owner_of(session: AsyncSession, key: str) -> UsageCell | None:
    """Whose usage the bytes of ``key`` count in, this month; ``None`` for no stored file."""
    row = (
        await session.execute(
            select(File.account_id, File.is_test).where(
                File.key == key, File.status == FileStatus.UPLOADED
            )
        )
    ).first()
    if row is None:
        return None
    return UsageCell(account_id=row.account_id, is_test=row.is_test, month=month_of(utcnow()))


async def count_served(
    chunks: AsyncIterator[bytes], on_bytes: Callable[[int], None]
) -> AsyncIterator[bytes]:
    """Pass the chunks through, reporting each one's size once it has been handed on."""
    async for chunk in chunks:
        yield chunk
        on_bytes(len(chunk))


async def add_served_bytes(session: AsyncSession, pending: dict[UsageCell, int]) -> None:
    # A stable order, so two processes flushing at once take row locks in the same order.
    for cell in sorted(pending, key=lambda c: (c.account_id, c.is_test, c.month)):
        nbytes = pending[cell]
        await ensure_usage_month(
            session, account_id=cell.account_id, is_test=cell.is_test, month=cell.month
        )
        await session.execute(
            update(UsageMonth)
            .where(
                UsageMonth.account_id == cell.account_id,
                UsageMonth.is_test == cell.is_test,
                UsageMonth.month == cell.month,
            )
            .values(bytes_served=UsageMonth.bytes_served + nbytes),
            execution_options={"synchronize_session": False},
        )
