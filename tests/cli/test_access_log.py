"""``cli/access_log.py`` in ``uploadkit serve``: no URL signatures in the access log."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.support.live_server import live_server


def test_access_log_redacts_presigned_url_signatures(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with live_server({}, data_dir=data_dir) as live:
        key = json.loads((data_dir / "dev-keys.json").read_text())["keys"]["live"]
        ticket = live.request_upload(key, name="a.txt", size=2, content_type="text/plain")
        url = httpx.URL(ticket["uploadUrl"])
        signature = url.params["signature"]
        assert (
            httpx.put(url, content=b"hi", headers={"content-type": "text/plain"}).status_code == 200
        )
        s3_style = "X-Amz-Credential=AKIDEXAMPLE%2F20261202&X-Amz-Signature=deadbeefcafe"
        httpx.get(f"{live.url}/healthz?{s3_style}")
        log = live.log()
    put_lines = [line for line in log.splitlines() if '"PUT ' in line]
    assert put_lines, log
    assert signature not in log
    assert "signature=REDACTED" in put_lines[0]
    assert "expires=" in put_lines[0]  # the rest of the URL stays for debugging
    assert "deadbeefcafe" not in log and "AKIDEXAMPLE" not in log
    assert "X-Amz-Signature=REDACTED" in log
