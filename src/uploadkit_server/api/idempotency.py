"""``Idempotency-Key`` on the API's POSTs (rules in ``core/idempotency/service.py``).

Pure ASGI, inside the body cap: the request body (at most 1 MiB) is read once to fingerprint
the request and handed on unchanged; the response, small JSON, is buffered so that it can be
kept before it is sent. Requests without the header, without a well-formed API key (they get
their ``401`` from the endpoint), and tus uploads are passed straight through.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from uploadkit_server.api.error_handlers import RaisedInBody, error_response
from uploadkit_server.core.auth.service import key_from_headers
from uploadkit_server.core.idempotency import service
from uploadkit_server.errors import UploadKitError, ValidationFailed
from uploadkit_server.runtime import Runtime
from uploadkit_server.security import hash_api_key

HEADER = b"idempotency-key"
REPLAYED_HEADER = "Idempotent-Replayed"


def _headers(scope: Scope) -> dict[bytes, str]:
    return {name: value.decode("latin-1") for name, value in scope.get("headers", [])}


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp, *, prefix: str, exempt: tuple[str, ...] = ()) -> None:
        self.app = app
        self.prefix = prefix
        self.exempt = exempt

    def _applies(self, scope: Scope) -> bool:
        path: str = scope.get("path", "")
        return (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and path.startswith(self.prefix)
            and not path.startswith(self.exempt)
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = _headers(scope) if self._applies(scope) else {}
        key = headers.get(HEADER)
        if key is None:
            await self.app(scope, receive, send)
            return
        try:
            api_key = key_from_headers(headers.get(b"x-api-key"), headers.get(b"authorization"))
        except UploadKitError:
            await self.app(scope, receive, send)
            return
        key = key.strip()
        if not key or len(key) > service.MAX_KEY_LENGTH or not key.isprintable():
            error = ValidationFailed(
                f"Idempotency-Key must be 1 to {service.MAX_KEY_LENGTH} printable characters",
                details={"Idempotency-Key": ["1 to 255 printable characters"]},
            )
            await error_response(error)(scope, receive, send)
            return
        try:
            body = await _read_body(receive)
        except RaisedInBody as refused:  # the body cap's refusals (size, invalid Unicode)
            await error_response(refused.error)(scope, receive, send)
            return
        runtime: Runtime = scope["app"].state.runtime
        scope_hash = hash_api_key(api_key)
        print_ = service.fingerprint(scope["method"], scope["path"], scope["query_string"], body)
        try:
            replay = await service.begin(
                runtime.sessionmaker, scope=scope_hash, key=key, fingerprint=print_
            )
        except UploadKitError as error:
            await error_response(error)(scope, receive, send)
            return
        if replay is not None:
            await _send_replay(replay, send)
            return
        status, start, chunks = 500, None, []

        async def replay_receive() -> Message:
            nonlocal body
            chunk, body = body, b""
            return {"type": "http.request", "body": chunk, "more_body": False}

        async def buffering_send(message: Message) -> None:
            nonlocal status, start
            if message["type"] == "http.response.start":
                status, start = message["status"], message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        try:
            await self.app(scope, replay_receive, buffering_send)
        finally:
            content_type = None
            if start is not None:
                for name, value in start.get("headers", []):
                    if name.lower() == b"content-type":
                        content_type = value.decode("latin-1")
            await service.finish(
                runtime.sessionmaker,
                scope=scope_hash,
                key=key,
                status=status,
                content_type=content_type,
                body=b"".join(chunks),
            )
        assert start is not None
        await send(start)
        await send({"type": "http.response.body", "body": b"".join(chunks), "more_body": False})


async def _read_body(receive: Receive) -> bytes:
    parts = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        parts.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(parts)


async def _send_replay(replay: service.Replay, send: Send) -> None:
    headers = [
        (b"content-length", str(len(replay.body)).encode()),
        (REPLAYED_HEADER.lower().encode(), b"true"),
    ]
    if replay.content_type:
        headers.append((b"content-type", replay.content_type.encode("latin-1")))
    await send({"type": "http.response.start", "status": replay.status, "headers": headers})
    await send({"type": "http.response.body", "body": replay.body, "more_body": False})
