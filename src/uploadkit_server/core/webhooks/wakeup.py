"""Waking a runtime's dispatchers the moment a transaction that queued a delivery commits, so
the first attempt does not wait for the next poll. Dispatchers in other processes (or of other
runtimes in this one) find the row on their next poll (``settings.webhook_poll_interval``).

A ``DeliveryWakeup`` belongs to one runtime: its dispatchers subscribe to it, and the sessions
of its sessionmaker carry it (``wake_on_commit``), so the code that queues a delivery needs only
its session (``notify_after_commit``). Several apps in one process (tests make many) each have
their own and never wake one another.

Example::

    wakeup = DeliveryWakeup()
    sessionmaker = wakeup.wake_on_commit(create_sessionmaker(engine))
    dispatcher = WebhookDispatcher(settings=settings, sessionmaker=sessionmaker, wakeup=wakeup)
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

#: Key in ``Session.info`` of the session's ``DeliveryWakeup``.
_WAKEUP_INFO_KEY = "uploadkit.webhooks.wakeup"
#: Key in ``Session.info`` marking that the after-commit hook is already installed.
_HOOKED_INFO_KEY = "uploadkit.webhooks.wake_on_commit"

Subscription = tuple[asyncio.AbstractEventLoop, asyncio.Event]


class DeliveryWakeup:
    """The dispatchers of one runtime, woken when one of its sessions commits a delivery."""

    def __init__(self) -> None:
        self._subscribers: set[Subscription] = set()

    def subscribe(self, wake: asyncio.Event) -> Subscription:
        """Set ``wake`` whenever a delivery is committed (until ``unsubscribe``)."""
        subscription = (asyncio.get_running_loop(), wake)
        self._subscribers.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscribers.discard(subscription)

    def notify(self) -> None:
        """Wake every subscribed dispatcher (safe from any thread)."""
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        for loop, wake in list(self._subscribers):
            if loop is running:
                wake.set()
            elif not loop.is_closed():
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(wake.set)

    def wake_on_commit(
        self, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> async_sessionmaker[AsyncSession]:
        """Make every session of ``sessionmaker`` carry this wakeup, for
        ``notify_after_commit``; returns ``sessionmaker``."""
        sessionmaker.configure(info={_WAKEUP_INFO_KEY: self})
        return sessionmaker


def notify_after_commit(session: AsyncSession) -> None:
    """Arrange for the session's ``DeliveryWakeup`` to notify once the transaction commits
    (never on rollback). A session without one (not made by a runtime's sessionmaker) wakes
    nobody: dispatchers find its rows by polling."""
    sync_session = session.sync_session
    wakeup: DeliveryWakeup | None = sync_session.info.get(_WAKEUP_INFO_KEY)
    if wakeup is None or sync_session.info.get(_HOOKED_INFO_KEY):
        return
    sync_session.info[_HOOKED_INFO_KEY] = True

    def _after_commit(_session: Any) -> None:
        wakeup.notify()

    event.listen(sync_session, "after_commit", _after_commit)
