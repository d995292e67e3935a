"""Where an interrupted multipart upload of a file on disk is remembered, so that uploading the same
file again continues it instead of starting over.

One small JSON file per upload in the state directory (``UPLOADKIT_STATE_DIR``, default
``$XDG_CACHE_HOME/uploadkit/uploads`` or ``~/.cache/uploadkit/uploads``), named by a hash of the
server, the API key, the route and the file's path, size and modification time — so an edited file
never resumes an old upload. Only ids are kept; the stored parts are asked from the server.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

STATE_DIR_ENV = "UPLOADKIT_STATE_DIR"


@dataclass(frozen=True, slots=True)
class ResumeToken:
    """Identifies a multipart upload in progress; pass it as ``upload(..., resume=token)``."""

    file_id: str
    upload_id: str


def default_state_dir() -> Path:
    if configured := os.environ.get(STATE_DIR_ENV):
        return Path(configured)
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "uploadkit" / "uploads"


class ResumeStore:
    def __init__(self, directory: Path, *, scope: str) -> None:
        """``scope`` separates servers and keys (the API root URL and a hash of the key)."""
        self.directory = directory
        self._scope = scope

    def _path(self, route: str, fingerprint: tuple[str, int, int]) -> Path:
        material = json.dumps([self._scope, route, *fingerprint])
        return self.directory / (hashlib.sha256(material.encode()).hexdigest()[:32] + ".json")

    def load(self, route: str, fingerprint: tuple[str, int, int]) -> ResumeToken | None:
        try:
            data = json.loads(self._path(route, fingerprint).read_text())
            return ResumeToken(file_id=str(data["file_id"]), upload_id=str(data["upload_id"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None  # absent or unreadable: start a new upload

    def save(self, route: str, fingerprint: tuple[str, int, int], token: ResumeToken) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self._path(route, fingerprint)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps({**asdict(token), "path": fingerprint[0]}))
        os.replace(temporary, path)  # atomic: a crash never leaves half a state file

    def forget(self, route: str, fingerprint: tuple[str, int, int]) -> None:
        self._path(route, fingerprint).unlink(missing_ok=True)
