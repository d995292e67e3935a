"""A real HTTP server on 127.0.0.1 that records the webhooks it receives.

It runs in a thread (``http.server``), so the dispatcher under test talks to it over real
sockets. Responses are scripted: a queue of status codes (then ``default_status``), and an
optional delay before answering.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class ReceivedWebhook:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode()


@dataclass
class WebhookReceiver:
    default_status: int = 200
    statuses: list[int] = field(default_factory=list)
    delay: float = 0.0
    #: Replaces the default short JSON answer when set.
    reply_body: bytes | None = None
    received: list[ReceivedWebhook] = field(default_factory=list)
    port: int = 0
    _arrived: threading.Condition = field(default_factory=threading.Condition)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/uploadkit"

    def next_status(self) -> int:
        with self._arrived:
            return self.statuses.pop(0) if self.statuses else self.default_status

    def record(self, webhook: ReceivedWebhook) -> None:
        with self._arrived:
            self.received.append(webhook)
            self._arrived.notify_all()

    def count(self) -> int:
        with self._arrived:
            return len(self.received)

    def wait_for(self, count: int, timeout: float = 20) -> list[ReceivedWebhook]:
        """Block until ``count`` webhooks arrived (for synchronous tests; async ones use
        ``wait_until``); fail after ``timeout`` seconds."""
        with self._arrived:
            self._arrived.wait_for(lambda: len(self.received) >= count, timeout)
            assert len(self.received) >= count, f"{len(self.received)} of {count} webhooks arrived"
            return list(self.received)

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                receiver.record(
                    ReceivedWebhook(
                        path=self.path,
                        headers={k.lower(): v for k, v in self.headers.items()},
                        body=body,
                    )
                )
                if receiver.delay:
                    time.sleep(receiver.delay)
                status = receiver.next_status()
                reply = receiver.reply_body or f'{{"received": true, "status": {status}}}'.encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(reply)))
                    self.end_headers()
                    self.wfile.write(reply)
                except OSError:
                    pass  # the sender gave up (timeout): nothing to answer

            def log_message(self, format: str, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self.port = int(server.server_address[1])
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


@contextmanager
def running_receiver(**options: object) -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver(**options)  # type: ignore[arg-type]
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()


async def wait_until(condition: Callable[[], object], *, deadline_seconds: float = 30.0) -> None:
    """Poll until ``condition()`` is truthy; fail after ``deadline_seconds`` (a deadline, not a
    measurement: the condition usually holds within milliseconds)."""
    deadline = time.monotonic() + deadline_seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached before the deadline")
        await asyncio.sleep(0.02)
