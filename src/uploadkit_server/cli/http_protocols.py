"""uvicorn's HTTP/1.1 protocols with a cap on the request head, for ``uploadkit serve``.

Neither of uvicorn's parsers bounds request headers the way a public server must: httptools
keeps reading one header for as long as it grows (a single 128 MiB header is read, then served),
and h11 caps the head at 16 KiB but counts no headers and answers a bare ``400``. These
subclasses refuse a head (request line plus headers) over ``MAX_HEAD_BYTES``, or more than
``MAX_HEADERS`` header lines, with ``431`` in the API's error envelope, and close the
connection. Bytes of an unfinished head are counted as they arrive, so the process never
buffers more than the cap plus one socket read.
"""

from __future__ import annotations

import json
from typing import Any

import h11
from uvicorn.protocols.http.flow_control import HIGH_WATER_LIMIT
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from uploadkit_server.errors import HeadersTooLarge

MAX_HEAD_BYTES = 64 * 1024
MAX_HEADERS = 100


def head_too_large_response(default_headers: list[tuple[bytes, bytes]]) -> bytes:
    """A complete ``431`` response in the envelope, ending the connection."""
    error = HeadersTooLarge(
        f"Request headers exceed {MAX_HEAD_BYTES} bytes or {MAX_HEADERS} header lines"
    )
    body = json.dumps(error.to_body()).encode()
    lines = [b"HTTP/1.1 431 Request Header Fields Too Large"]
    lines += [name + b": " + value for name, value in default_headers]
    lines += [
        b"content-type: application/json",
        b"content-length: " + str(len(body)).encode(),
        b"connection: close",
    ]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


class _HeadTooLarge(Exception):
    """Raised from a parser callback to stop parsing; the protocol answers ``431``."""


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """httptools with the head cap. While a head is unfinished every byte received belongs to
    it, so the running total is checked after each read; a finished head is measured exactly."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True
        self._head_bytes = 0
        self._header_count = 0
        self._header_bytes = 0
        self._refused = False

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if self._in_head:
            self._head_bytes += len(data)
        super().data_received(data)
        if self._in_head and self._head_bytes > MAX_HEAD_BYTES and not self._refused:
            self._refuse()

    def _refuse(self) -> None:
        self._refused = True
        self.transport.write(head_too_large_response(self.server_state.default_headers))
        self.transport.close()

    def send_400_response(self, msg: str) -> None:
        # The parser's error path, also taken when a callback raised ``_HeadTooLarge``.
        if self._refused:
            self.transport.write(head_too_large_response(self.server_state.default_headers))
            self.transport.close()
            return
        super().send_400_response(msg)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._header_count = 0
        self._header_bytes = 0

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        self._header_bytes += len(name) + len(value) + 4  # ": " and CRLF
        if self._header_count > MAX_HEADERS or self._header_bytes > MAX_HEAD_BYTES:
            self._refused = True
            raise _HeadTooLarge
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        if len(self.url) + self._header_bytes > MAX_HEAD_BYTES:
            self._refused = True
            raise _HeadTooLarge
        self._in_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head = True
        self._head_bytes = 0

    def on_body(self, body: bytes) -> None:
        """uvicorn's ``on_body`` without two copies of every chunk of a large upload.

        uvicorn appends each chunk to a ``bytearray`` and hands the app ``bytes(bytearray)``:
        two copies of every byte. A chunk that arrives while nothing is waiting is kept as the
        ``bytes`` httptools made (``bytes(b)`` of a ``bytes`` is ``b`` itself, no copy); only
        chunks that pile up before the app reads are joined. Flow control is uvicorn's.
        """
        cycle = self.cycle
        if (self.parser.should_upgrade() and self._should_upgrade()) or cycle.response_complete:
            return
        if not cycle.body:
            cycle.body = body  # type: ignore[assignment]  # read once by receive(), then reset
        else:
            if not isinstance(cycle.body, bytearray):
                cycle.body = bytearray(cycle.body)
            cycle.body += body
        if len(cycle.body) > HIGH_WATER_LIMIT:
            self.flow.pause_reading()
        cycle.message_event.set()


class _BoundedConnection(h11.Connection):
    """h11 refuses a head over its buffer size (``max_incomplete_event_size``, status hint 431)
    only while it is incomplete; this measures complete heads too, counts headers, and
    remembers why it refused."""

    refused_head = False

    def next_event(self) -> Any:
        try:
            event = super().next_event()
        except h11.RemoteProtocolError as error:
            self.refused_head = error.error_status_hint == 431
            raise
        if isinstance(event, h11.Request) and (
            len(event.headers) > MAX_HEADERS
            # A head that arrived whole in one read never met the buffer check: measure it.
            or len(event.target) + sum(len(n) + len(v) + 4 for n, v in event.headers)
            > MAX_HEAD_BYTES
        ):
            self.refused_head = True
            raise h11.RemoteProtocolError("request head too large", error_status_hint=431)
        return event


class BoundedH11Protocol(H11Protocol):
    """h11 with the same cap and the same ``431`` envelope."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.conn = _BoundedConnection(h11.SERVER, max_incomplete_event_size=MAX_HEAD_BYTES)

    def send_400_response(self, msg: str) -> None:
        conn = self.conn
        if isinstance(conn, _BoundedConnection) and conn.refused_head:
            self.transport.write(head_too_large_response(self.server_state.default_headers))
            self.transport.close()
            return
        super().send_400_response(msg)


def bounded_protocol(name: str) -> type[HttpToolsProtocol] | type[H11Protocol]:
    """The protocol class for ``uploadkit serve --http NAME`` (``auto``: httptools when it is
    installed, as uvicorn chooses)."""
    if name == "h11":
        return BoundedH11Protocol
    if name == "httptools":
        return BoundedHttpToolsProtocol
    try:
        import httptools  # noqa: F401
    except ImportError:
        return BoundedH11Protocol
    return BoundedHttpToolsProtocol
