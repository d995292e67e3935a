"""A real ``uploadkit serve`` process on a free loopback port, for tests that need one."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def api(self) -> str:
        return f"{self.url}/api/v1"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def request_upload(
        self, key: str, *, name: str, size: int, content_type: str, route: str = "files"
    ) -> dict[str, Any]:
        """``POST /upload/request`` with the API key ``key``; the ticket."""
        response = httpx.post(
            f"{self.api}/upload/request",
            json={
                "fileName": name,
                "fileSize": size,
                "contentType": content_type,
                "routeSlug": route,
            },
            headers={"x-api-key": key},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    def complete(self, key: str, file_id: str) -> httpx.Response:
        """``POST /upload/complete`` with the API key ``key``; the response, whatever it is."""
        return httpx.post(
            f"{self.api}/upload/complete",
            json={"fileId": file_id},
            headers={"x-api-key": key},
            timeout=30,
        )

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks run, as in a crash."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


def start_server(
    env: Mapping[str, str], *, data_dir: Path, port: int | None = None, args: tuple[str, ...] = ()
) -> LiveServer:
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    full_env = {
        **os.environ,
        "UPLOADKIT_DATA_DIR": str(data_dir),
        "UPLOADKIT_SECRET_KEY": "live-server-test-secret",
        **env,
    }
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / f"server-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "uploadkit_server", "serve", "--port", str(port), *args],
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = LiveServer(url=url, process=process, log_path=log_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{server.log()}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"server did not become ready:\n{server.log()}")


@contextmanager
def live_server(
    env: Mapping[str, str], *, data_dir: Path, port: int | None = None, args: tuple[str, ...] = ()
) -> Iterator[LiveServer]:
    server = start_server(env, data_dir=data_dir, port=port, args=args)
    try:
        yield server
    finally:
        server.stop()
