"""Running digests of tus uploads, kept per process between PATCHes.

A store that saw every byte of an upload finishes it without reading the bytes again. An
upload whose PATCHes reached another process (or that was forgotten past ``MAX_TRACKED_UPLOADS``)
has no entry, or one at the wrong offset; its store recomputes the digests when finishing.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

#: Running digests kept per process; beyond this the oldest are dropped (and recomputed).
MAX_TRACKED_UPLOADS = 10_000


@dataclass
class RunningDigests:
    """SHA-256 and MD5 of the first ``offset`` bytes of an upload."""

    offset: int = 0
    sha256: Any = field(default_factory=hashlib.sha256)
    md5: Any = field(default_factory=hashlib.md5)

    def copy(self) -> RunningDigests:
        return RunningDigests(self.offset, self.sha256.copy(), self.md5.copy())


class DigestCache:
    """Store ref -> ``RunningDigests``, bounded (least recently stored go first), thread-safe:
    local stores update it from worker threads."""

    def __init__(self, *, max_entries: int = MAX_TRACKED_UPLOADS) -> None:
        self._max_entries = max_entries
        self._entries: OrderedDict[str, RunningDigests] = OrderedDict()
        self._lock = threading.Lock()

    def remember(self, ref: str, digests: RunningDigests) -> None:
        with self._lock:
            self._entries[ref] = digests
            self._entries.move_to_end(ref)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)

    def take(self, ref: str) -> RunningDigests | None:
        with self._lock:
            return self._entries.pop(ref, None)
