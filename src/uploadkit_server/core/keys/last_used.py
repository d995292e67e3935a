"""``lastUsedAt`` without a database write on every request.

Authentication records the moment a key was used in memory (a dict assignment); a periodic job
writes the latest moment of each key in one batch. A key's ``lastUsedAt`` is therefore at most
one job interval behind, and a request never waits on that write. Several processes each keep
their own record; the conditional update keeps the newest moment whatever order they flush in.
"""

from __future__ import annotations

from datetime import datetime

from uploadkit_server.clock import utcnow


class LastUsedRecorder:
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
