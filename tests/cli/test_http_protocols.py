"""``cli/http_protocols.py`` in ``uploadkit serve``: request heads capped with a ``431``, with
both of uvicorn's HTTP parsers, over raw sockets."""

from __future__ import annotations

import json
import socket
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
