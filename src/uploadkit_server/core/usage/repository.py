"""All SQL of the usage counters: ``usage_months`` and the storage held on ``accounts``.

Every check is a conditional UPDATE (``… SET n = n + 1 WHERE n + 1 <= limit``): the database
decides atomically, so concurrent requests that together would pass a limit never all succeed.
The decisions made from their answers (which limit, which error) are in ``quota.py``.

Every presign of an account updates the same two rows (its month, its storage), so on
PostgreSQL presigns of one account take turns on those row locks, each held until its
transaction's commit. A transaction that takes an upload slot therefore commits without waiting
for its WAL record to reach the disk (``synchronous_commit`` off for that transaction only):
the locks are then held for the commit's round trip instead of a disk flush (3 to 4 ms here), and
the next presign's turn comes that much sooner. Consistency is untouched (the counters and the
file row commit or vanish together, the conditional updates still decide), quotas stay exact;
what a crash of the database server itself (not of UploadKit) could lose is the last fraction
of a second of reservations, which the client then sees as an upload ticket that no longer
exists. Completions, webhooks and every other write keep the server's synchronous commit.

And those presigns take their turns in this process first (``_ACCOUNT_TURNS``): one
transaction per account updates the rows at a time, the others wait here, in arrival order,
until it has ended. Left to PostgreSQL, every waiter queues on the row lock and re-reads the
row at each release, and one account's presigns got slower the more ran at once (one process,
one account: 435/s at 2 concurrent, 344/s at 8, 210 to 250/s at 32). The rows' own locks still
decide between processes; the turn only keeps this process's queue out of PostgreSQL, so a
turn not granted within ``TURN_WAIT_SECONDS`` is gone without (to the row locks, as before).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial

from sqlalchemy import ColumnElement, Insert, Update, bindparam, func, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from uploadkit_server.core.usage.served import UsageCell
from uploadkit_server.db.driver import DriverStatement
from uploadkit_server.db.driver_transaction import RequestSession
from uploadkit_server.db.keyed_locks import KeyedLocks
from uploadkit_server.db.models import Account, UsageMonth
from uploadkit_server.db.session import dialect_insert, upsert_insert


async def usage_month(
    session: AsyncSession, *, account_id: str, is_test: bool, month: str
) -> UsageMonth | None:
    return await session.get(UsageMonth, (account_id, is_test, month))


async def usage_months(
    session: AsyncSession, *, account_id: str, is_test: bool, limit: int
) -> list[UsageMonth]:
    """Newest month first ("YYYY-MM" sorts as text)."""
    result = await session.scalars(
        select(UsageMonth)
        .where(UsageMonth.account_id == account_id, UsageMonth.is_test == is_test)
        .order_by(UsageMonth.month.desc())
        .limit(limit)
    )
    return list(result)


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


def _take_slot(dialect: str, *, limited: bool) -> Insert:
    """Create the month's row or take a slot in it, only below the limit: when the row exists
    and is full, the ``WHERE`` of ``DO UPDATE`` leaves it and nothing is returned. Built once
    per dialect and kind (``bindparam`` values, ``_TAKE_SLOT``), as it runs on every presign."""
    statement = dialect_insert(dialect)(UsageMonth).values(
        account_id=bindparam("p_account_id"),
        is_test=bindparam("p_is_test"),
        month=bindparam("p_month"),
        uploads=0,
        uploads_in_flight=1,
        bytes_uploaded=0,
        bytes_served=0,
    )
    below_limit = UsageMonth.uploads + UsageMonth.uploads_in_flight < bindparam("p_limit")
    upsert: Insert = statement.on_conflict_do_update(
        index_elements=[UsageMonth.account_id, UsageMonth.is_test, UsageMonth.month],
        set_={"uploads_in_flight": UsageMonth.uploads_in_flight + 1},
        where=below_limit if limited else None,
    ).returning(UsageMonth.uploads_in_flight)
    if dialect == "postgresql":
        # Evaluated for the row a slot was taken in, so only a reserving transaction commits
        # without the flush wait (see the module docstring); no round trip of its own.
        upsert = upsert.returning(func.set_config("synchronous_commit", "off", true()))
    return upsert


def _hold_storage(_dialect: str, *, is_test: bool, limited: bool) -> Update:
    """Add ``p_size`` bytes to the account's (live or test) storage, only within ``p_limit``."""
    column = Account.test_storage_bytes if is_test else Account.storage_bytes
    statement = update(Account).where(Account.id == bindparam("p_account_id"))
    if limited:
        statement = statement.where(
            Account.storage_bytes + bindparam("p_size") <= bindparam("p_limit")
        )
    return statement.values({column: column + bindparam("p_size")}).returning(Account.id)


_TAKE_SLOT = {
    limited: DriverStatement(partial(_take_slot, limited=limited)) for limited in (False, True)
}
_HOLD_STORAGE = {
    (is_test, limited): DriverStatement(partial(_hold_storage, is_test=is_test, limited=limited))
    for is_test in (False, True)
    for limited in (False, True)
}


_ACCOUNT_TURNS = KeyedLocks()
_TURNS_HELD = "uploadkit.account_turns"
#: How long a presign waits for its account's turn before it goes to the row locks anyway.
TURN_WAIT_SECONDS = 30.0


async def _take_account_turn(session: AsyncSession, account_id: str) -> None:
    """On PostgreSQL, wait for the account's turn, held until the session's transaction ends
    (see the module docstring); a batch's later files are in the turn already."""
    if not isinstance(session, RequestSession):
        return
    transaction = session.driver_transaction()
    if transaction is None or transaction.runner.dialect.name != "postgresql":
        return
    held: set[str] = session.info.setdefault(_TURNS_HELD, set())
    if account_id in held:
        return
    release: Callable[[], None] | None = None
    try:
        async with asyncio.timeout(TURN_WAIT_SECONDS):
            release = await _ACCOUNT_TURNS.acquire(account_id)
    except TimeoutError:
        # On to the row locks; the rest of this transaction (a batch) does not wait again:
        # holding the rows now, it would wait for a turn whose holder waits for those rows.
        pass
    held.add(account_id)

    def end_turn() -> None:
        held.discard(account_id)
        if release is not None:
            release()

    transaction.call_on_end(end_turn)


async def take_upload_slot(
    session: AsyncSession, *, account_id: str, is_test: bool, month: str, limit: int | None
) -> bool:
    """Count one upload in flight for the month, only while uploads plus those in flight stay
    below ``limit`` (``None``: no limit). On the driver connection (``db/driver.py``): this
    runs on every presign."""
    await _take_account_turn(session, account_id)
    taken = await _TAKE_SLOT[limit is not None].first(
        session,
        {"p_account_id": account_id, "p_is_test": is_test, "p_month": month, "p_limit": limit},
    )
    return taken is not None


async def hold_storage(
    session: AsyncSession, *, account_id: str, is_test: bool, size: int, limit: int | None
) -> bool:
    """Add ``size`` bytes to the account's storage, only within ``limit`` (``None``: no limit)."""
    held = await _HOLD_STORAGE[is_test, limit is not None].first(
        session, {"p_account_id": account_id, "p_size": size, "p_limit": limit}
    )
    return held is not None


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
