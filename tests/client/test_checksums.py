"""Checksums in the SDK and CLI against the real server: uploads declare SHA-256 by default (the
single PUT up front, each multipart part while it is sent), bytes damaged on the way are refused,
and downloads are verified against the file's ``sha256``."""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from tests.support.sdk import MIB, Live, client_for, write
from uploadkit_client import ChecksumMismatch, UploadKit
from uploadkit_server.cli.main import app


class DamagingTransport(httpx.BaseTransport):
    """The real transport; records API request bodies, and flips one byte of the body of
    storage PUTs (``damage_puts``) or of downloads (``damage_downloads``)."""

    def __init__(self, *, damage_puts: int = 0, damage_downloads: bool = False) -> None:
        self.inner = httpx.HTTPTransport()
        self.damage_puts = damage_puts
        self.damage_downloads = damage_downloads
        self.bodies: dict[str, list[Any]] = {}
        self.lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/api/"):
            content = request.read()
            with self.lock:
                self.bodies.setdefault(request.url.path, []).append(
                    json.loads(content) if content else None
                )
        if request.method == "PUT" and request.url.path.startswith("/storage/"):
            with self.lock:
                damage = self.damage_puts > 0
                self.damage_puts -= 1 if damage else 0
            if damage:
                data = bytearray(request.read())
                data[len(data) // 2] ^= 0x01
                request = httpx.Request(
                    "PUT", request.url, headers=request.headers, content=bytes(data)
                )
        response = self.inner.handle_request(request)
        if self.damage_downloads and request.url.path.startswith("/cdn/"):
            data = bytearray(response.read())
            data[0] ^= 0x01
            return httpx.Response(
                response.status_code, headers=response.headers, content=bytes(data)
            )
        return response

    def close(self) -> None:
        self.inner.close()


def test_a_single_put_declares_its_sha256(live: Live, state_dir: Path, tmp_path: Path) -> None:
    data = write(tmp_path / "small.bin", 300_000)
    transport = DamagingTransport()
    with client_for(live, state_dir, transport) as client:
        file = client.upload(tmp_path / "small.bin", route="files")
    [sent] = transport.bodies["/api/v1/upload/request"]
    assert sent["checksum"]["algorithm"] == "sha256"
    assert file["sha256"] == hashlib.sha256(data).hexdigest()


def test_multipart_parts_carry_their_sha256(live: Live, state_dir: Path, tmp_path: Path) -> None:
    data = write(tmp_path / "big.bin", 11 * MIB)
    transport = DamagingTransport()
    with client_for(live, state_dir, transport) as client:
        file = client.upload(tmp_path / "big.bin", route="files")
    [complete] = transport.bodies["/api/v1/upload/multipart/complete"]
    assert [p["checksum"]["algorithm"] for p in complete["parts"]] == ["sha256"] * 3
    assert file["sha256"] == hashlib.sha256(data).hexdigest()


def test_bytes_damaged_on_the_way_are_refused(live: Live, state_dir: Path) -> None:
    transport = DamagingTransport(damage_puts=1)
    with client_for(live, state_dir, transport) as client, pytest.raises(ChecksumMismatch):
        client.upload(b"x" * 50_000, route="files")


def test_a_damaged_part_is_refused_at_complete(live: Live, state_dir: Path, tmp_path: Path) -> None:
    write(tmp_path / "big.bin", 11 * MIB)
    transport = DamagingTransport(damage_puts=1)
    with (
        client_for(live, state_dir, transport, concurrency=1) as client,
        pytest.raises(ChecksumMismatch),
    ):
        client.upload(tmp_path / "big.bin", route="files")


def test_without_checksums_nothing_is_declared(live: Live, state_dir: Path) -> None:
    transport = DamagingTransport()
    with client_for(live, state_dir, transport, checksums=False) as client:
        file = client.upload(b"plain", route="files")
    [sent] = transport.bodies["/api/v1/upload/request"]
    assert "checksum" not in sent
    assert file["sha256"] == hashlib.sha256(b"plain").hexdigest()  # the server's own


def test_download_is_verified(live: Live, state_dir: Path, tmp_path: Path, sdk: UploadKit) -> None:
    data = write(tmp_path / "photo.bin", 200_000)
    file = sdk.upload(tmp_path / "photo.bin", route="files")
    out = tmp_path / "out"
    out.mkdir()
    got = sdk.download(file["key"], out)
    assert got["sha256"] == file["sha256"]
    assert (out / "photo.bin").read_bytes() == data

    with (
        client_for(live, state_dir, DamagingTransport(damage_downloads=True)) as client,
        pytest.raises(ChecksumMismatch),
    ):
        client.download(file["key"], tmp_path / "damaged.bin")
    assert not (tmp_path / "damaged.bin").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []


def test_cli_download_and_no_checksum_upload(live: Live, state_dir: Path, tmp_path: Path) -> None:
    env = {
        "UPLOADKIT_API_KEY": live.key,
        "UPLOADKIT_URL": live.url,
        "UPLOADKIT_STATE_DIR": str(state_dir),
    }
    data = write(tmp_path / "cli.bin", 4000)
    runner = CliRunner()
    uploaded = runner.invoke(
        app,
        ["upload", str(tmp_path / "cli.bin"), "-r", "files", "--no-checksum", "--json"],
        env=env,
    )
    assert uploaded.exit_code == 0, uploaded.stderr
    [file] = json.loads(uploaded.stdout)
    target = tmp_path / "copy.bin"
    result = runner.invoke(app, ["files", "download", file["key"], str(target)], env=env)
    assert result.exit_code == 0, result.stderr
    assert "sha256 verified" in result.stderr
    assert target.read_bytes() == data
