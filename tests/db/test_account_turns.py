"""On PostgreSQL the presigns of one account take turns in the process before they update the
account's shared rows (``core/usage/repository.py``): the second waits until the first's
transaction has ended, committed or not; another account does not wait; a batch (one session,
several slots) is one turn."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from uploadkit_server.core.accounts.service import NewAccount, create_account
from uploadkit_server.core.keys.repository import find_by_hash
from uploadkit_server.core.usage import repository
from uploadkit_server.core.usage.repository import take_upload_slot
from uploadkit_server.db.session import create_sessionmaker, unit_of_work
from uploadkit_server.security import new_id

pytestmark = pytest.mark.parametrize("db_kind", ["postgres"])

MONTH = "2026-12"


async def _account(engine: AsyncEngine) -> NewAccount:
    async with unit_of_work(create_sessionmaker(engine)) as session:
        return await create_account(session, email=f"{new_id('x')}@example.com")


async def _slot(engine: AsyncEngine, account: NewAccount, *, hold: asyncio.Event | None) -> None:
    """One presign's transaction: a statement first (as the key lookup is), then the slot, then
    (while ``hold`` is unset) nothing, then the end."""
    async with unit_of_work(create_sessionmaker(engine)) as session:
        await find_by_hash(session, "no such key")
        assert await take_upload_slot(
            session, account_id=account.account.id, is_test=False, month=MONTH, limit=None
        )
        if hold is not None:
            await hold.wait()


async def _lock_waiters(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        count = await connection.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        )
    return int(count or 0)


async def test_the_next_presign_of_an_account_waits_for_the_turn_to_end(
    engine: AsyncEngine,
) -> None:
    account, other = await _account(engine), await _account(engine)
    hold = asyncio.Event()
    first = asyncio.create_task(_slot(engine, account, hold=hold))
    await asyncio.sleep(0.2)
    second = asyncio.create_task(_slot(engine, account, hold=None))
    # Another account's presign does not wait for this one's turn.
    await asyncio.wait_for(_slot(engine, other, hold=None), timeout=5)
    await asyncio.sleep(0.2)
    assert not second.done()
    # It waits in this process, not in PostgreSQL's queue for the row lock.
    assert await _lock_waiters(engine) == 0
    hold.set()
    await asyncio.wait_for(asyncio.gather(first, second), timeout=5)


async def test_a_turn_ends_with_a_rolled_back_transaction_too(engine: AsyncEngine) -> None:
    account = await _account(engine)

    class Refused(Exception):
        pass

    with pytest.raises(Refused):
        async with unit_of_work(create_sessionmaker(engine)) as session:
            await find_by_hash(session, "no such key")
            await take_upload_slot(
                session, account_id=account.account.id, is_test=False, month=MONTH, limit=None
            )
            raise Refused
    await asyncio.wait_for(_slot(engine, account, hold=None), timeout=5)


async def test_a_batch_takes_its_slots_in_one_turn(engine: AsyncEngine) -> None:
    account = await _account(engine)
    async with unit_of_work(create_sessionmaker(engine)) as session:
        await find_by_hash(session, "no such key")
        for _ in range(3):
            assert await asyncio.wait_for(
                take_upload_slot(
                    session, account_id=account.account.id, is_test=False, month=MONTH, limit=None
                ),
                timeout=5,
            )


async def test_a_turn_not_granted_in_time_goes_to_the_row_locks(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = await _account(engine)
    monkeypatch.setattr(repository, "TURN_WAIT_SECONDS", 0.2)
    hold = asyncio.Event()
    first = asyncio.create_task(_slot(engine, account, hold=hold))
    await asyncio.sleep(0.2)
    second = asyncio.create_task(_slot(engine, account, hold=None))
    await asyncio.sleep(0.6)
    assert not second.done()
    assert await _lock_waiters(engine) == 1  # now in PostgreSQL's queue, as before the turns
    hold.set()
    await asyncio.wait_for(asyncio.gather(first, second), timeout=5)


async def test_a_batch_whose_turn_timed_out_does_not_wait_for_a_turn_again(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Holding the rows after its first file, a batch that waited again for the turn could wait
    # for a holder that itself waits for those rows (30 s per file in production).
    account = await _account(engine)
    end_outside_turn = await repository._ACCOUNT_TURNS.acquire(account.account.id)
    try:
        async with unit_of_work(create_sessionmaker(engine)) as session:
            await find_by_hash(session, "no such key")
            monkeypatch.setattr(repository, "TURN_WAIT_SECONDS", 0.2)
            await take_upload_slot(
                session, account_id=account.account.id, is_test=False, month=MONTH, limit=None
            )
            monkeypatch.setattr(repository, "TURN_WAIT_SECONDS", 30.0)
            for _ in range(2):
                await asyncio.wait_for(
                    take_upload_slot(
                        session,
                        account_id=account.account.id,
                        is_test=False,
                        month=MONTH,
                        limit=None,
                    ),
                    timeout=5,
                )
    finally:
        end_outside_turn()
