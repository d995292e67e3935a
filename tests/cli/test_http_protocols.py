"""``uploadkit serve`` as deployed: request heads capped with a ``431`` (both of uvicorn's HTTP
parsers), private files on disk whatever the umask, and no URL signatures in the access log."""

from __future__ import annotations

import json
import os
import socket
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.live_server import LiveServer, live_server

PARSERS = ["httptools", "h11"]


@pytest.fixture(scope="module", params=PARSERS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    data_dir = tmp_path_factory.mktemp(f"serve-{request.param}") / "data"
    with live_server({}, data_dir=data_dir, args=("--http", str(request.param))) as live:
        yield live


def exchange(server: LiveServer, head: bytes, *, chunk: int = 65536) -> bytes:
    """Send a raw request head, then read the whole answer (the server closes after a 431).
    A server that stops reading early may reset the connection: what it answered is kept."""
    port = int(server.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        try:
            for start in range(0, len(head), chunk):
                sock.sendall(head[start : start + chunk])
        except OSError:
            pass
        received = b""
        try:
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                received += data
                if b"\r\n\r\n" in received and not received.startswith(b"HTTP/1.1 431"):
                    break  # a served response on a keep-alive connection: enough
        except OSError:
            pass
    return received


def status_and_body(raw: bytes) -> tuple[int, bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def request_head(*headers: bytes) -> bytes:
    return b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"".join(headers) + b"\r\n"


def assert_431(raw: bytes) -> None:
    status, body = status_and_body(raw)
    assert status == 431, raw[:300]
    error = json.loads(body)["error"]
    assert error["code"] == "REQUEST_HEADERS_TOO_LARGE"
    assert error["message"] and error["suggestion"]


def test_one_oversized_header_is_431(server: LiveServer) -> None:
    assert_431(exchange(server, request_head(b"X-Big: " + b"a" * (80 * 1024) + b"\r\n")))


def rss_kib(server: LiveServer) -> int:
    status = Path(f"/proc/{server.process.pid}/status").read_text().splitlines()
    return int(next(line.split()[1] for line in status if line.startswith("VmRSS:")))


def test_a_huge_header_is_cut_off_not_read(server: LiveServer) -> None:
    # 32 MiB of one header: refused after the cap, without reading (or keeping) the rest.
    before = rss_kib(server)
    raw = exchange(server, request_head(b"X-Huge: " + b"a" * (32 * 1024 * 1024) + b"\r\n"))
    if raw:  # the refusal, unless the reset of the unread rest overtook it
        assert_431(raw)
    assert httpx.get(f"{server.url}/healthz").status_code == 200
    grown = rss_kib(server) - before
    assert grown < 16 * 1024, f"the server grew by {grown} KiB reading one request head"


def test_too_many_headers_is_431(server: LiveServer) -> None:
    many = [f"X-H{n}: v\r\n".encode() for n in range(150)]
    assert_431(exchange(server, request_head(*many)))


def test_a_large_but_allowed_head_is_served(server: LiveServer) -> None:
    headers = [f"X-H{n}: {'v' * 500}\r\n".encode() for n in range(90)]  # ~46 KiB, 92 headers
    status, _ = status_and_body(exchange(server, request_head(*headers)))
    assert status == 200
    # And a normal request on a fresh connection after the refusals.
    assert httpx.get(f"{server.url}/healthz").status_code == 200


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_files_on_disk_are_private_whatever_the_umask(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    previous = os.umask(0o022)  # the usual default, inherited by the server process
    try:
        with live_server({}, data_dir=data_dir) as live:
            key = json.loads((data_dir / "dev-keys.json").read_text())["keys"]["live"]
            ticket = httpx.post(
                f"{live.api}/upload/request",
                json={
                    "fileName": "secret.txt",
                    "fileSize": 6,
                    "contentType": "text/plain",
                    "routeSlug": "files",
                },
                headers={"x-api-key": key},
            ).json()
            put = httpx.put(
                ticket["uploadUrl"], content=b"secret", headers={"content-type": "text/plain"}
            )
            assert put.status_code == 200, put.text
            done = httpx.post(
                f"{live.api}/upload/complete",
                json={"fileId": ticket["fileId"]},
                headers={"x-api-key": key},
            )
            assert done.status_code == 200, done.text
    finally:
        os.umask(previous)
    assert mode(data_dir) == 0o700
    database_files = list(data_dir.glob("uploadkit.db*"))
    assert data_dir / "uploadkit.db" in database_files
    for path in database_files:
        assert mode(path) == 0o600, path
    stored = [p for p in (data_dir / "storage").rglob("*") if p.is_file()]
    assert any(p.read_bytes() == b"secret" for p in stored), stored
    for path in stored:
        assert mode(path) == 0o600, path
    for path in (data_dir / "storage").rglob("*"):
        if path.is_dir():
            assert mode(path) == 0o700, path
    assert mode(data_dir / "dev-keys.json") == 0o600


def test_an_existing_world_readable_database_is_tightened(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with live_server({}, data_dir=data_dir):
        pass
    data_dir.chmod(0o755)
    (data_dir / "uploadkit.db").chmod(0o644)
    with live_server({}, data_dir=data_dir):
        pass
    assert mode(data_dir) == 0o700
    assert mode(data_dir / "uploadkit.db") == 0o600


def test_access_log_redacts_presigned_url_signatures(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with live_server({}, data_dir=data_dir) as live:
        key = json.loads((data_dir / "dev-keys.json").read_text())["keys"]["live"]
        ticket = httpx.post(
            f"{live.api}/upload/request",
            json={
                "fileName": "a.txt",
                "fileSize": 2,
                "contentType": "text/plain",
                "routeSlug": "files",
            },
            headers={"x-api-key": key},
        ).json()
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
