"""Files and keys through a real ``uploadkit serve`` process: uvicorn, not the test transport,
decides what ``raw_path`` holds, so encoded keys are checked over a real socket; and a server
shutting down writes the ``lastUsedAt`` it recorded in memory."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from tests.support.live_server import live_server

pytestmark = pytest.mark.slow


def test_encoded_keys_and_last_used_at_over_a_real_server(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    # Jobs run once at start-up and then not for an hour: only the shutdown flush can write.
    env = {"UPLOADKIT_JOB_INTERVAL": "3600"}
    with live_server(env, data_dir=data_dir) as server:
        dev = json.loads((data_dir / "dev-keys.json").read_text())
        headers = {"x-api-key": dev["keys"]["live"]}
        with httpx.Client(base_url=server.api, headers=headers, timeout=30) as http:
            ticket = http.post(
                "/upload/request",
                json={
                    "fileName": "a b%2Fc.txt",
                    "fileSize": 5,
                    "contentType": "text/plain",
                    "routeSlug": "files",
                },
            ).json()
            put = httpx.put(
                ticket["uploadUrl"],
                content=b"hello",
                headers={"content-type": "text/plain"},
                timeout=30,
            )
            assert put.status_code < 300, put.text
            assert (
                http.post("/upload/complete", json={"fileId": ticket["fileId"]}).status_code == 200
            )
            key = ticket["key"]

            encoded = http.get(f"/files/{quote(key, safe='')}")
            assert encoded.status_code == 200, encoded.text
            assert encoded.json()["key"] == key
            assert http.get(f"/files/{quote(key, safe='/')}").json()["key"] == key
            patched = http.patch(f"/files/{quote(key, safe='')}", json={"metadata": {"x": 1}})
            assert patched.json()["metadata"] == {"x": 1}
            assert http.delete(f"/files/{quote(key, safe='')}").json() == {"deleted": True}
            assert http.get(f"/files/{quote(key, safe='')}").status_code == 404

            keys = http.get(f"/projects/{dev['project']['id']}/keys").json()["items"]
            assert all(item["lastUsedAt"] is None for item in keys)

    with (
        live_server(env, data_dir=data_dir) as server,
        httpx.Client(base_url=server.api, headers=headers, timeout=30) as http,
    ):
        keys = http.get(f"/projects/{dev['project']['id']}/keys").json()["items"]
    live = next(item for item in keys if not item["isTest"])
    assert live["lastUsedAt"] is not None
