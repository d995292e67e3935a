"""The SDK's part workers (``uploadkit_client/parts.py``) and the caller's Ctrl-C: the workers
are stopped and waited for, and the interrupt reaches the caller as a ``KeyboardInterrupt``
even when CPython reports it as a lock error."""

from __future__ import annotations

import _thread
import threading

import pytest

from uploadkit_client.parts import interrupt_behind, send_parts


def hidden_interrupt() -> RuntimeError:
    """What CPython raises when a Ctrl-C lands inside the ``with`` of ``Condition.wait``: the
    lock's release fails while the interrupt propagates."""
    try:
        try:
            raise KeyboardInterrupt
        finally:
            raise RuntimeError("release unlocked lock")
    except RuntimeError as error:
        return error


def test_interrupt_behind_finds_the_ctrl_c_and_nothing_else() -> None:
    interrupt = KeyboardInterrupt()
    assert interrupt_behind(interrupt) is interrupt
    hidden = hidden_interrupt()
    assert isinstance(hidden.__context__, KeyboardInterrupt)
    assert interrupt_behind(hidden) is hidden.__context__
    assert interrupt_behind(ValueError("bad part")) is None
    unrelated = RuntimeError("a real runtime error")
    unrelated.__context__ = ValueError("its cause")
    assert interrupt_behind(unrelated) is None


def test_ctrl_c_in_the_callers_thread_stops_and_waits_for_every_worker() -> None:
    sent: list[int] = []
    first_part_sending = threading.Event()
    stop = threading.Event()

    def send(number: int, url: str) -> None:
        sent.append(number)
        if number == 1:
            first_part_sending.set()
            _thread.interrupt_main()  # the user presses Ctrl-C while part 1 is on the wire
        stop.wait(5)  # a part's body ends at its next chunk once the upload is stopped

    parts = [(number, f"https://storage.example/part/{number}") for number in range(1, 9)]
    with pytest.raises(KeyboardInterrupt):
        send_parts(parts, send, concurrency=2, stop=stop, cancel=None)
    assert first_part_sending.is_set()
    assert stop.is_set()  # the workers were told to stop, not left to send all eight parts
    assert len(sent) < len(parts)
    assert not [t for t in threading.enumerate() if t.name.startswith("uploadkit-part-")]


def test_a_ctrl_c_that_cuts_a_workers_start_short_is_still_a_ctrl_c(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """CPython's ``RuntimeError: release unlocked lock`` out of an interrupted ``Thread.start``
    (the second worker's here, after it was launched) reaches the caller as the Ctrl-C, and
    every worker has ended by then."""
    real_start = threading.Thread.start
    starts: list[str] = []

    def start(thread: threading.Thread) -> None:
        real_start(thread)
        starts.append(thread.name)
        if thread.name.startswith("uploadkit-part-") and len(starts) == 2:
            raise hidden_interrupt()

    stop = threading.Event()

    def send(number: int, url: str) -> None:
        stop.wait(5)  # on the wire until the upload is stopped

    monkeypatch.setattr(threading.Thread, "start", start)
    parts = [(number, f"https://storage.example/part/{number}") for number in range(1, 9)]
    with pytest.raises(KeyboardInterrupt):
        send_parts(parts, send, concurrency=4, stop=stop, cancel=None)
    monkeypatch.undo()
    assert starts == ["uploadkit-part-0", "uploadkit-part-1"]  # the others never started
    assert stop.is_set()
    assert not [t for t in threading.enumerate() if t.name.startswith("uploadkit-part-")]
