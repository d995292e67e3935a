"""``uploadkit-client`` is its own distribution: built from ``clients/python`` and installed
alone into a fresh virtual environment (httpx its only dependency), it uploads to a real server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import httpx
import pytest

from tests.support.sdk import Live

pytestmark = pytest.mark.slow

CLIENT_DIR = Path(__file__).resolve().parents[2] / "clients" / "python"

UPLOAD = """
import json, sys
from uploadkit_client import UploadKit, __version__
with UploadKit(sys.argv[1], sys.argv[2], resumable=False) as client:
    uploaded = client.upload(sys.argv[3], route="files")
print(json.dumps({"version": __version__, "url": uploaded["url"], "size": uploaded["fileSize"]}))
"""


def test_the_client_installs_alone_and_uploads(live: Live, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    # Not an editable install: the built distribution, as an application would get it.
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", str(CLIENT_DIR)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    listed = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    installed = {package["name"].lower() for package in json.loads(listed.stdout)}
    assert "uploadkit-client" in installed and "httpx" in installed
    assert not installed & {"uploadkit-server", "fastapi", "sqlalchemy", "asyncpg", "aiobotocore"}

    payload = tmp_path / "hello.txt"
    payload.write_bytes(b"installed alone\n" * 100)
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    done = subprocess.run(
        [str(python), "-c", UPLOAD, live.key, live.url, str(payload)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,  # not the checkout: nothing importable from it
        env=env,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["version"] == "0.1.0" and result["size"] == payload.stat().st_size
    assert httpx.get(result["url"], timeout=30).content == payload.read_bytes()
    assert sys.prefix != str(env_dir)
