"""Bytes the CDN serves, counted per account, mode and month without a write per request.

The CDN endpoint looks up whose file it serves (one indexed read), then counts the bytes as they
actually leave (a client that hangs up early is charged for what it got). The counts gather in
memory and a periodic job adds them to ``usage_months.bytes_served`` in one transaction
(``repository.add_served_bytes``); a
process that dies loses at most one job interval of counts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from uploadkit_server.clock import month_of, utcnow
from uploadkit_server.core.files import repository as files_repository


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
    owner = await files_repository.stored_owner(session, key)
    if owner is None:
        return None
    account_id, is_test = owner
    return UsageCell(account_id=account_id, is_test=is_test, month=month_of(utcnow()))


async def count_served(
    chunks: AsyncIterator[bytes], on_bytes: Callable[[int], None]
) -> AsyncIterator[bytes]:
    """Pass the chunks through, reporting each one's size once it has been handed on."""
    async for chunk in chunks:
        yield chunk
        on_bytes(len(chunk))
