"""The ``uploadkit`` command run as an operator runs it: a separate process, its output captured."""

from __future__ import annotations

import os
import subprocess
import sys


def uploadkit(
    *args: str, env: dict[str, str], stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``uploadkit ARGS`` in a new interpreter with ``env`` added to this environment."""
    return subprocess.run(
        [sys.executable, "-m", "uploadkit_server", *args],
        input=stdin,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
