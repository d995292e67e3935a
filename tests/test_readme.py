"""The README's curl walk-through, run as written against a real server process."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.live_server import live_server
from tests.support.services import unavailable

pytestmark = pytest.mark.slow

README = Path(__file__).parent.parent / "README.md"


def walkthrough() -> str:
    text = README.read_text()
    section = text.split("## Walk-through with curl", 1)[1]
    match = re.search(r"```sh\n(.*?)```", section, re.S)
    assert match, "the README lost its walk-through"
    return match.group(1)


def sdk_snippet() -> str:
    """The SDK section's shell lines, its Python fed to the Python they start."""
    section = README.read_text().split("## Python SDK", 1)[1]
    shell = re.search(r"```sh\n(.*?)```", section, re.S)
    python = re.search(r"```python\n(.*?)```", section, re.S)
    assert shell and python, "the README lost its SDK snippet"
    *setup, start = shell.group(1).strip().splitlines()
    command = start.split("  #", 1)[0]
    return "\n".join([*setup, f"{command} - <<'PY'", python.group(1).rstrip(), "PY", ""])


def test_readme_walkthrough_works_verbatim(tmp_path: Path) -> None:
    if shutil.which("curl") is None:
        unavailable("curl is not installed (the README walk-through uses it)")
    data_dir = tmp_path / "data"
    env = {"UPLOADKIT_DATA_DIR": str(data_dir)}
    with live_server(env, data_dir=data_dir) as server:
        script = (walkthrough() + sdk_snippet()).replace("http://127.0.0.1:8000", server.url)
        workdir = tmp_path / "work"
        (workdir / ".venv" / "bin").mkdir(parents=True)
        launcher = workdir / ".venv" / "bin" / "uploadkit"
        launcher.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m uploadkit_server "$@"\n')
        launcher.chmod(0o755)
        python = workdir / ".venv" / "bin" / "python"
        python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
        python.chmod(0o755)
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=workdir,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "round trip OK" in result.stdout
    assert '"status":"UPLOADED"' in result.stdout
    # The SDK snippet uploaded hello.png again, and listed both uploads.
    assert result.stdout.count(" 13\n") == 2, result.stdout
    # Nothing was written into the directory the walk-through started in (the checkout).
    assert sorted(p.name for p in workdir.iterdir()) == [".venv"]
