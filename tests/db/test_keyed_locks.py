"""``KeyedLocks``: one turn per key at a time, in arrival order; other keys never wait; a lock
lives only while someone holds or waits for it, a cancelled waiter included."""

from __future__ import annotations

import asyncio

from uploadkit_server.db.keyed_locks import KeyedLocks


async def test_turns_of_one_key_come_in_arrival_order_and_other_keys_do_not_wait() -> None:
    locks = KeyedLocks()
    order: list[str] = []
    first = await locks.acquire("account-a")

    async def turn(name: str, key: str) -> None:
        release = await locks.acquire(key)
        order.append(name)
        release()

    waiting = [asyncio.create_task(turn(f"a{n}", "account-a")) for n in range(3)]
    await asyncio.wait_for(turn("b", "account-b"), timeout=1)  # another key: at once
    await asyncio.sleep(0)
    assert order == ["b"]  # the others wait for account-a's first turn
    first()
    first()  # ending a turn twice is harmless
    await asyncio.wait_for(asyncio.gather(*waiting), timeout=1)
    assert order == ["b", "a0", "a1", "a2"]
    assert locks._by_loop[asyncio.get_running_loop()] == {}


async def test_a_cancelled_waiter_leaves_nothing_behind() -> None:
    locks = KeyedLocks()
    release = await locks.acquire("k")
    waiter = asyncio.create_task(locks.acquire("k"))
    await asyncio.sleep(0)
    waiter.cancel()
    await asyncio.gather(waiter, return_exceptions=True)
    release()
    assert locks._by_loop[asyncio.get_running_loop()] == {}
    # And the key is free for the next one.
    again = await asyncio.wait_for(locks.acquire("k"), timeout=1)
    again()
