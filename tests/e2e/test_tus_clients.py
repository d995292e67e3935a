"""Stock tus clients against a real server process: ``tuspy`` (with a resume after an
interrupted transfer, and across two processes on PostgreSQL) and ``tus-js-client`` on node."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from tusclient import client as tus_client

from tests.e2e.test_scale_out import create_account
from tests.support.databases import fresh_database
from tests.support.live_server import LiveServer, start_server
from tests.support.services import unavailable
from tests.support.tus import PNG
from tests.support.webhook_receiver import WebhookReceiver, wait_until

MIB = 1024 * 1024
TUS_JS_DIR = Path(__file__).parent / "tus_js"


def picture(size: int) -> bytes:
    return (PNG + os.urandom(size))[:size]


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    return {
        "UPLOADKIT_DATA_DIR": str(data_dir),
        "UPLOADKIT_SECRET_KEY": "live-server-test-secret",
        "UPLOADKIT_WEBHOOK_ALLOW_PRIVATE": "true",
        **extra,
    }


async def _setup(server: LiveServer, env: dict[str, str], hook: str) -> dict[str, str]:
    """An account with a route ``files`` whose webhook is ``hook``; returns the live key header."""
    account = create_account(env)
    keys, project = account["keys"], account["project"]
    assert isinstance(keys, dict) and isinstance(project, dict)
    headers = {"x-api-key": str(keys["live"])}
    async with httpx.AsyncClient(timeout=30) as http:
        route = await http.post(
            f"{server.api}/projects/{project['id']}/routers",
            json={"slug": "files", "maxFileSize": "64MB", "webhookUrl": hook},
            headers=headers,
        )
        assert route.status_code == 201, route.text
    return headers


def _metadata(name: str) -> dict[str, str]:
    return {"filename": name, "filetype": "image/png", "routeSlug": "files", "album": "tus"}


def _offset(url: str, headers: dict[str, str]) -> int:
    response = httpx.head(url, headers={**headers, "Tus-Resumable": "1.0.0"}, timeout=10)
    assert response.status_code == 200, response.status_code
    return int(response.headers["upload-offset"])


def interrupted_patch(
    url: str, headers: dict[str, str], *, offset: int, data: bytes, declared: int
) -> None:
    """A PATCH that declares ``declared`` bytes, sends ``data`` and drops the connection."""
    parts = urlsplit(url)
    lines = [
        f"PATCH {parts.path} HTTP/1.1",
        f"Host: {parts.netloc}",
        "Tus-Resumable: 1.0.0",
        "Content-Type: application/offset+octet-stream",
        f"Upload-Offset: {offset}",
        f"Content-Length: {declared}",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), 10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + data)


async def _uploaded_file(server: LiveServer, headers: dict[str, str], key: str) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.get(f"{server.api}/files/{key.replace('/', '%2F')}", headers=headers)
        assert response.status_code == 200, response.text
        listed = (await http.get(f"{server.api}/files", headers=headers)).json()["items"]
        assert key in [item["key"] for item in listed]
        return dict(response.json())


def _key_of(url: str, headers: dict[str, str]) -> str:
    response = httpx.head(url, headers={**headers, "Tus-Resumable": "1.0.0"}, timeout=10)
    return response.headers["uploadkit-file-key"]


async def test_tuspy_uploads_and_resumes_after_an_interrupted_transfer(
    tmp_path: Path, receiver: WebhookReceiver
) -> None:
    env = _env(tmp_path / "data")
    server = start_server(env, data_dir=tmp_path / "data")
    try:
        headers = await _setup(server, env, receiver.url)
        data = picture(3 * MIB + 12_345)
        path = tmp_path / "holiday.png"
        path.write_bytes(data)
        client = tus_client.TusClient(f"{server.api}/tus/", headers=headers)

        first = client.uploader(
            str(path), chunk_size=MIB, metadata=_metadata("holiday.png"), upload_checksum=True
        )
        await asyncio.to_thread(first.upload_chunk)
        url = first.url
        assert url is not None and first.offset == MIB

        # The connection drops half-way through the next chunk: what arrived is kept.
        await asyncio.to_thread(
            interrupted_patch,
            url,
            headers,
            offset=MIB,
            data=data[MIB : MIB + 400_000],
            declared=MIB,
        )
        await wait_until(lambda: _offset(url, headers) > MIB)
        resumed_at = _offset(url, headers)
        assert MIB < resumed_at <= MIB + 400_000

        # A new client (as after a restart) resumes from the server's offset.
        again = tus_client.TusClient(f"{server.api}/tus/", headers=headers)
        second = again.uploader(str(path), url=url, chunk_size=MIB, upload_checksum=True)
        assert second.offset == resumed_at
        await asyncio.to_thread(second.upload)

        key = await asyncio.to_thread(_key_of, url, headers)
        file = await _uploaded_file(server, headers, key)
        assert file["status"] == "UPLOADED" and file["fileSize"] == len(data)
        assert file["sha256"] == hashlib.sha256(data).hexdigest()
        assert file["metadata"] == {"album": "tus"} and file["detectedType"] == "image/png"
        async with httpx.AsyncClient(timeout=30) as http:
            assert (await http.get(file["url"])).content == data

        await wait_until(lambda: receiver.count() == 1)
        payload = json.loads(receiver.received[0].body)
        assert payload["event"] == "onUploadComplete" and payload["file"]["key"] == key
    finally:
        server.stop()


@pytest.mark.postgres
async def test_two_server_processes_serve_one_uploads_patches(
    tmp_path: Path, receiver: WebhookReceiver
) -> None:
    async with fresh_database("postgres", tmp_path) as database_url:
        env = _env(tmp_path / "shared", UPLOADKIT_DATABASE_URL=database_url)
        servers = [start_server(env, data_dir=tmp_path / "shared") for _ in range(2)]
        try:
            headers = await _setup(servers[0], env, receiver.url)
            data = picture(4 * MIB + 99)
            path = tmp_path / "shared.png"
            path.write_bytes(data)
            client = tus_client.TusClient(f"{servers[0].api}/tus/", headers=headers)
            uploader = client.uploader(
                str(path), chunk_size=MIB, metadata=_metadata("shared.png"), upload_checksum=True
            )
            await asyncio.to_thread(uploader.upload_chunk)
            # tusclient leaves ``url`` unannotated (``None`` until the upload is created).
            upload_path = urlsplit(str(uploader.url)).path
            turn = 1
            while uploader.offset < len(data):  # every PATCH goes to the other process
                uploader.set_url(servers[turn % 2].url + upload_path)
                await asyncio.to_thread(uploader.upload_chunk)
                turn += 1
            assert turn == 5
            key = await asyncio.to_thread(_key_of, servers[1].url + upload_path, headers)
            file = await _uploaded_file(servers[0], headers, key)
            assert file["status"] == "UPLOADED"
            assert file["sha256"] == hashlib.sha256(data).hexdigest()
            await wait_until(lambda: receiver.count() >= 1)
            assert json.loads(receiver.received[0].body)["file"]["key"] == key
        finally:
            for server in servers:
                server.stop()


def _node_ready() -> str | None:
    """Why tus-js-client cannot run here, or ``None`` when it can (installed on first use)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        return "node and npm are not installed"
    if not (TUS_JS_DIR / "node_modules" / "tus-js-client").is_dir():
        result = subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=TUS_JS_DIR,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if result.returncode != 0:
            return f"npm install tus-js-client failed: {result.stderr[-2000:]}"
    return None


async def test_tus_js_client_uploads_from_node(tmp_path: Path, receiver: WebhookReceiver) -> None:
    problem = await asyncio.to_thread(_node_ready)
    if problem is not None:
        unavailable(f"{problem} (tus-js-client)")
    env = _env(tmp_path / "data")
    server = start_server(env, data_dir=tmp_path / "data")
    try:
        headers = await _setup(server, env, receiver.url)
        data = picture(2 * MIB + 777)
        path = tmp_path / "from-node.png"
        path.write_bytes(data)
        result = await asyncio.to_thread(
            subprocess.run,
            ["node", str(TUS_JS_DIR / "upload.mjs"), f"{server.api}/tus/", str(path)],
            env={**os.environ, "UPLOADKIT_API_KEY": headers["x-api-key"]},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr + result.stdout
        url = json.loads(result.stdout.strip().splitlines()[-1])["url"]
        key = await asyncio.to_thread(_key_of, url, headers)
        file = await _uploaded_file(server, headers, key)
        assert file["status"] == "UPLOADED" and file["fileName"] == "from-node.png"
        assert file["sha256"] == hashlib.sha256(data).hexdigest()
        await wait_until(lambda: receiver.count() == 1)
    finally:
        server.stop()
