"""``lastUsedAt`` without a database write on every request.

Authentication records the moment a key was used in memory (a dict assignment); a periodic job
writes the latest moment of each key in one batch. A key's ``lastUsedAt`` is therefore at most
one job interval behind, and a request never waits on that write. Several processes each keep
their own record; the conditional update keeps the newest moment whatever order they flush in.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Table, bindparam, or_, update
from sqlalchemy.ext.asyncio import AsyncSession

from uploadkit_server.clock import utcnow
from uploadkit_server.db.models import ApiKey


class KeyUsageRecorder:
    def __init__(self) -> None:
        self._last_used: dict[str, datetime] = {}

    def record(self, key_id: str, moment: datetime | None = None) -> None:
        self._last_used[key_id] = moment or utcnow()

    def take(self) -> dict[str, datetime]:
        """Hand over what was recorded since the last call, and start afresh."""
        taken, self._last_used = self._last_used, {}
        return taken

    def give_back(self, pending: dict[str, datetime]) -> None:
        """Return entries a failed flush could not write; newer records made meanwhile win."""
        for key_id, moment in pending.items():
            current = self._last_used.get(key_id)
            if current is None or current < moment:
                self._last_used[key_id] = moment


async def write_last_used(session: AsyncSession, pending: dict[str, datetime]) -> None:
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
