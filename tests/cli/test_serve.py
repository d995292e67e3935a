"""``uploadkit serve --workers N``: several processes start at once on one database and serve."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx

from tests.support.live_server import live_server


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
