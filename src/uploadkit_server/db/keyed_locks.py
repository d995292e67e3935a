"""``KeyedLocks``: an ``asyncio.Lock`` per key (an account id, say), made when first waited on
and dropped when free again, so that the number of locks follows the keys in use, not every
key ever seen. Locks belong to one event loop; tests run several, so each loop has its own."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Hashable


class KeyedLocks:
    def __init__(self) -> None:
        self._by_loop: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, dict[Hashable, _Entry]
        ] = weakref.WeakKeyDictionary()

    async def acquire(self, key: Hashable) -> Callable[[], None]:
        """Wait for ``key``'s turn (in arrival order); returns the function that ends it."""
        loop = asyncio.get_running_loop()
        entries = self._by_loop.get(loop)
        if entries is None:
            entries = self._by_loop[loop] = {}
        entry = entries.get(key)
        if entry is None:
            entry = entries[key] = _Entry()
        entry.users += 1
        try:
            await entry.lock.acquire()
        except BaseException:
            self._leave(entries, key, entry)
            raise
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                entry.lock.release()
                self._leave(entries, key, entry)

        return release

    @staticmethod
    def _leave(entries: dict[Hashable, _Entry], key: Hashable, entry: _Entry) -> None:
        entry.users -= 1
        if entry.users == 0 and entries.get(key) is entry:
            del entries[key]


class _Entry:
    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.users = 0  # holding or waiting
