"""``send_parts``: the parts of a multipart upload, sent ``concurrency`` at a time on threads.

Each worker thread takes the next part from a shared queue and sends it with the caller's
``send`` (which does that part's retries). Failure model:

- a part failing stops new parts from starting; parts in flight may finish, so there is more
  to resume from, and the first failure is returned;
- ``UploadCancelled`` raised by a part (an ``on_progress`` callback), or the caller's ``cancel``
  being set, also breaks off the parts in flight: ``stop`` is set, and a part's body raises
  ``Stopped`` at its next chunk;
- ``KeyboardInterrupt`` in the caller's thread stops the workers, waits for them, propagates
  (also when CPython reports it as a ``RuntimeError``: ``interrupt_behind``).

Every worker has ended when ``send_parts`` returns or raises, so no request is left running
behind the caller's back.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable

from uploadkit_client.errors import UploadCancelled
from uploadkit_client.transfer import POLL_SECONDS, Stopped

#: Sends one part (number, URL); raises on failure.
SendPart = Callable[[int, str], None]


class _PartQueue:
    """The parts not started yet and the failures so far, shared by the workers."""

    def __init__(self, parts: Iterable[tuple[int, str]], send: SendPart, stop: threading.Event):
        self._parts = iter(parts)
        self._send = send
        self._stop = stop
        self._lock = threading.Lock()
        self.no_new_parts = threading.Event()
        self.failures: list[BaseException] = []

    def _next(self) -> tuple[int, str] | None:
        with self._lock:
            return next(self._parts, None)

    def _fail(self, error: BaseException) -> None:
        with self._lock:
            self.failures.append(error)
        self.no_new_parts.set()
        if isinstance(error, UploadCancelled):
            self._stop.set()

    def work(self) -> None:
        """A worker thread's loop: send parts until none is left or the upload stops."""
        while not self.no_new_parts.is_set():
            part = self._next()
            if part is None:
                return
            try:
                self._send(*part)
            except Stopped:
                return
            except BaseException as error:  # handed to the caller's thread by send_parts
                self._fail(error)
                return

    def halt(self) -> None:
        self._stop.set()
        self.no_new_parts.set()


def send_parts(
    parts: list[tuple[int, str]],
    send: SendPart,
    *,
    concurrency: int,
    stop: threading.Event,
    cancel: threading.Event | None,
) -> BaseException | None:
    """Send ``parts`` (number, URL) with ``send`` on up to ``concurrency`` threads; return the
    first failure, or ``None`` when every part was sent (or the upload was stopped)."""
    queue = _PartQueue(parts, send, stop)
    workers = [
        threading.Thread(target=queue.work, name=f"uploadkit-part-{n}", daemon=True)
        for n in range(min(concurrency, len(parts)))
    ]
    launched: list[threading.Thread] = []
    try:
        for thread in workers:
            launched.append(thread)  # before start(): an interrupted start() may still launch it
            thread.start()
        while alive := [thread for thread in workers if thread.is_alive()]:
            alive[0].join(POLL_SECONDS)
            if cancel is not None and cancel.is_set():
                queue.halt()
    except BaseException as error:  # KeyboardInterrupt: stop the workers, keep what is stored
        interrupt = interrupt_behind(error)
        queue.halt()
        for thread in launched:
            _join_once_started(thread)
        if interrupt is not None and interrupt is not error:
            raise interrupt from None
        raise
    return queue.failures[0] if queue.failures else None


#: How long a thread whose ``start()`` was interrupted is given to begin running.
_START_GRACE_SECONDS = 1.0


def _join_once_started(thread: threading.Thread) -> None:
    """Join ``thread``, also one whose ``start()`` a Ctrl-C cut short: it may be running
    already, or about to (``join`` refuses a thread not marked started yet). One that never
    began within ``_START_GRACE_SECONDS`` was not launched at all."""
    deadline = time.monotonic() + _START_GRACE_SECONDS
    while True:
        try:
            thread.join()
            return
        except RuntimeError:  # "cannot join thread before it is started"
            if time.monotonic() > deadline:
                return
            time.sleep(0.001)


def interrupt_behind(error: BaseException) -> KeyboardInterrupt | None:
    """The Ctrl-C that ``error`` is, or that it hides.

    A ``KeyboardInterrupt`` that lands inside ``threading``'s own locking (``Thread.start``
    waits on a ``Condition``) can leave CPython raising ``RuntimeError: release unlocked lock``
    while handling it; that is still the user's Ctrl-C, and is reported as one.

    >>> interrupt_behind(KeyboardInterrupt()) is not None
    True
    >>> interrupt_behind(ValueError()) is None
    True
    """
    if isinstance(error, KeyboardInterrupt):
        return error
    context = error.__context__
    if isinstance(error, RuntimeError) and isinstance(context, KeyboardInterrupt):
        return context
    return None
