"""``uploadkit serve --workers 2``: whichever worker answers a scrape, it counts every worker's
requests (prometheus-client's multi-process mode, set up by ``serve`` itself)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.support.live_server import live_server
from tests.support.metrics import sample

pytestmark = pytest.mark.slow

REQUESTS = 20


def test_a_scrape_sums_all_workers(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with live_server({}, data_dir=data_dir, args=("--workers", "2")) as server:
        for _ in range(REQUESTS):  # a new connection each: spread over the workers
            assert httpx.get(f"{server.api}/usage", timeout=10).status_code == 401
        scrapes = [httpx.get(f"{server.url}/metrics", timeout=10) for _ in range(6)]
    assert all(s.status_code == 200 for s in scrapes), scrapes[0].text
    counted = {
        sample(
            s.text,
            "uploadkit_http_requests_total",
            method="GET",
            route="/api/v1/usage",
            status="401",
        )
        for s in scrapes
    }
    assert counted == {REQUESTS}, counted
    assert (data_dir / "metrics").is_dir()
