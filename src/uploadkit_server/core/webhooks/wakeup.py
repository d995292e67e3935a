"""Waking the dispatchers of this process the moment a transaction that queued a delivery
commits, so the first attempt does not wait for the next poll. Dispatchers in other processes
find the row on their next poll (``settings.webhook_poll_interval``)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

_subscribers: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
_SESSION_FLAG = "uploadkit.webhooks.wake_on_commit"


Subscription = tuple[asyncio.AbstractEventLoop, asyncio.Event]


def subscribe(wake: asyncio.Event) -> Subscription:
    """Set ``wake`` whenever a delivery is committed in this process (until ``unsubscribe``)."""
    subscription = (asyncio.get_running_loop(), wake)
    _subscribers.add(subscription)
    return subscription


def unsubscribe(subscription: Subscription) -> None:
    _subscribers.discard(subscription)


def notify() -> None:
    """Wake every dispatcher of this process (safe from any thread)."""
    try:
        running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    for loop, wake in list(_subscribers):
        if loop is running:
            wake.set()
        elif not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(wake.set)


def notify_after_commit(session: AsyncSession) -> None:
    """Arrange for ``notify()`` once ``session``'s transaction commits (never on rollback)."""
    sync_session = session.sync_session
    if sync_session.info.get(_SESSION_FLAG):
        return
    sync_session.info[_SESSION_FLAG] = True

    def _after_commit(_session: Any) -> None:
        notify()

    event.listen(sync_session, "after_commit", _after_commit)
