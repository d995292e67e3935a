"""``cli/main.py``: ``uploadkit serve`` (``--workers N`` on one database, host, port and data
directory from options, the environment and ``make run``), and the admin commands saying which
database they use."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.cli import uploadkit
from tests.support.live_server import free_port, live_server


def child_pids(pid: int) -> set[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return {int(p) for p in children.read_text().split()} if children.exists() else set()


def test_workers_share_one_database(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with live_server({}, data_dir=data_dir, args=("--workers", "2")) as server:
        assert len(child_pids(server.process.pid)) >= 2, server.log()
        # Both workers come up on the one SQLite file, each migrating it at start-up.
        deadline = time.monotonic() + 60
        while server.log().count("Application startup complete") < 2:
            assert time.monotonic() < deadline, server.log()
            time.sleep(0.2)
        assert "Traceback" not in server.log()
        keys = json.loads((data_dir / "dev-keys.json").read_text())["keys"]
        for n in range(10):
            ticket = httpx.post(
                f"{server.api}/upload/request",
                json={
                    "fileName": f"w{n}.txt",
                    "fileSize": 2,
                    "contentType": "text/plain",
                    "routeSlug": "files",
                },
                headers={"x-api-key": keys["live"]},
            )
            assert ticket.status_code == 200, ticket.text


REPO = Path(__file__).resolve().parents[2]


def wait_healthy(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, "the server exited"
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError("the server did not come up")


def stop(process: subprocess.Popen[bytes]) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)


def test_make_run_takes_port_host_and_data_dir(tmp_path: Path) -> None:
    port, data_dir = free_port(), tmp_path / "make-data"
    # This environment's interpreter stands in for .venv, taken as installed (-o: not rebuilt).
    venv = Path(sys.executable).parent.parent
    process = subprocess.Popen(
        [
            "make",
            "-s",
            "-o",
            f"{venv}/.installed",
            "run",
            f"VENV={venv}",
            f"PORT={port}",
            "HOST=127.0.0.1",
            f"DATA_DIR={data_dir}",
        ],
        cwd=REPO,
        env={k: v for k, v in os.environ.items() if not k.startswith("UPLOADKIT_")},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_healthy(f"http://127.0.0.1:{port}", process)
        assert (data_dir / "uploadkit.db").exists() and (data_dir / "dev-keys.json").exists()
    finally:
        stop(process)


def test_serve_reads_host_and_port_from_the_environment(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "UPLOADKIT_PORT": str(port),
        "UPLOADKIT_HOST": "127.0.0.1",
        "UPLOADKIT_DATA_DIR": str(tmp_path / "env-data"),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "uploadkit_server", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_healthy(f"http://127.0.0.1:{port}", process)
        assert (tmp_path / "env-data" / "uploadkit.db").exists()
    finally:
        stop(process)


def test_admin_commands_say_which_database_they_use(tmp_path: Path) -> None:
    env = {"UPLOADKIT_DATA_DIR": str(tmp_path / "elsewhere")}
    created = uploadkit(
        "admin", "create-account", "--email", "where@example.com", "--json", env=env
    )
    assert created.returncode == 0, created.stderr
    assert f"Database: SQLite at {tmp_path / 'elsewhere' / 'uploadkit.db'}" in created.stderr
    assert json.loads(created.stdout)["account"]["email"] == "where@example.com"  # stdout clean

    pg = uploadkit(
        "admin",
        "set-tier",
        "--account",
        "acct_x",
        "--tier",
        "pro",
        env={"UPLOADKIT_DATABASE_URL": "postgresql://ops:s3cret@127.0.0.1:9/uk"},
    )
    assert "Database: postgresql+asyncpg://ops:***@127.0.0.1:9/uk" in pg.stderr
    assert "s3cret" not in pg.stderr + pg.stdout
