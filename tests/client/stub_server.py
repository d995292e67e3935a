"""A scripted HTTP server for the answers a healthy UploadKit server rarely gives on demand
(a 429 followed by a 200, a proxy's HTML 502): it replays canned responses in order."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Canned:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None


@dataclass
class Stub:
    url: str
    requests: list[tuple[str, str, dict[str, str]]]


def envelope(code: str, message: str, suggestion: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if suggestion:
        error["suggestion"] = suggestion
    return {"error": error}


@contextmanager
def stub_server(script: list[Canned]) -> Iterator[Stub]:
    """Answer the n-th request with ``script[n]`` (the last one repeats)."""
    seen: list[tuple[str, str, dict[str, str]]] = []
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            self.rfile.read(length)
            with lock:
                seen.append((self.command, self.path, dict(self.headers)))
                canned = script[min(len(seen), len(script)) - 1]
            body = canned.raw if canned.raw is not None else json.dumps(canned.body).encode()
            self.send_response(canned.status)
            self.send_header("content-length", str(len(body)))
            if canned.raw is None:
                self.send_header("content-type", "application/json")
            for name, value in canned.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield Stub(url=f"http://127.0.0.1:{server.server_address[1]}", requests=seen)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
