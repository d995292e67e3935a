"""Pure-ASGI middleware that must see every request before routing: the HTTPS rule and the
cap on API request bodies. Both answer in the SPEC's error envelope."""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from uploadkit_server.api.error_handlers import RaisedInBody, error_response
from uploadkit_server.errors import HttpsRequired, PayloadTooLarge, ValidationFailed
from uploadkit_server.settings import HttpsRule, IPNetwork

#: JSON bodies of the API are small; the bytes of uploads go to the storage endpoints instead.
MAX_API_BODY_BYTES = 1024 * 1024


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: Headers only a proxy sends on someone else's behalf. A loopback peer sending any of them is a
#: same-host reverse proxy, not a local developer, and gets no loopback exemption.
_FORWARDING_HEADERS = frozenset(
    {b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host", b"x-real-ip", b"forwarded"}
)


def parse_ip(text: str) -> IPAddress | None:
    """An address with IPv4-mapped IPv6 (``::ffff:127.0.0.1``) normalised to IPv4, so a
    dual-stack listener's peers match the same trusted-proxy and loopback rules."""
    try:
        ip = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _client_ip(scope: Scope) -> IPAddress | None:
    client = scope.get("client")
    if not client:
        return None
    return parse_ip(str(client[0]))


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _header_list(scope: Scope, name: bytes) -> list[str]:
    """Every value of a comma-separated header, across repeated header lines, in order."""
    values: list[str] = []
    for key, value in scope.get("headers", []):
        if key == name:
            values.extend(item.strip() for item in value.decode("latin-1").split(","))
    return values


class HttpsRuleMiddleware:
    """Refuse plain HTTP with ``403 HTTPS_REQUIRED`` unless exempt.

    A request from a trusted proxy counts as HTTPS when the proxy chain says so: the scheme is
    read from the right of ``X-Forwarded-Proto`` (the value the nearest proxy appended), moving
    one value left for each further trusted hop named at the right of ``X-Forwarded-For``, so the
    value used is the one written by the outermost trusted proxy, the one that saw the client.
    Values a client sent ahead of that are ignored. Such a request's scheme is rewritten to
    ``https`` so that URLs built from it are right.

    ``auto`` exempts loopback clients (local development), but not a loopback peer that
    forwards for someone else (it sends ``X-Forwarded-*``): that is a same-host reverse proxy,
    and the request counts as HTTPS only if the proxy is trusted and says so.
    """

    def __init__(self, app: ASGIApp, *, rule: HttpsRule, trusted_proxies: Sequence[IPNetwork]):
        self.app = app
        self.rule = rule
        self.trusted_proxies = list(trusted_proxies)

    def _trusted(self, ip: IPAddress | None) -> bool:
        return ip is not None and any(ip in network for network in self.trusted_proxies)

    def _forwarded_scheme(self, scope: Scope) -> str | None:
        """The scheme the trusted proxy chain reports, or ``None`` if it reports none."""
        protos = [value.lower() for value in _header_list(scope, b"x-forwarded-proto")]
        if not protos or not protos[-1]:
            return None
        index = len(protos) - 1
        for hop in reversed(_header_list(scope, b"x-forwarded-for")):
            if index == 0 or not self._trusted(parse_ip(hop)):
                break
            index -= 1  # that hop is a trusted proxy too: its value is one further left
        return protos[index] or None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        ip = _client_ip(scope)
        if (
            scope.get("scheme") != "https"
            and self._trusted(ip)
            and self._forwarded_scheme(scope) == "https"
        ):
            scope = dict(scope, scheme="https")
        if scope.get("scheme") == "https" or self.rule is HttpsRule.FALSE:
            await self.app(scope, receive, send)
            return
        forwarding = any(key in _FORWARDING_HEADERS for key, _ in scope.get("headers", []))
        if self.rule is HttpsRule.AUTO and ip is not None and ip.is_loopback and not forwarding:
            await self.app(scope, receive, send)
            return
        if forwarding and not self._trusted(ip):
            suggestion = (
                "Use the https:// URL; an operator running a reverse proxy lists its address "
                "in UPLOADKIT_TRUSTED_PROXIES and has it set X-Forwarded-Proto"
            )
        else:
            suggestion = "Use the https:// URL of this server"
        response = error_response(
            HttpsRequired(
                "All requests must be made over HTTPS. HTTP requests are rejected.",
                suggestion=suggestion,
            )
        )
        await response(scope, receive, send)


class RejectNulMiddleware:
    """``400`` for a NUL (``%00``) in the path or query: PostgreSQL cannot compare text holding
    one, so it must never reach a query."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (
            b"%00" in scope.get("raw_path", b"") or b"%00" in scope.get("query_string", b"")
        ):
            error = ValidationFailed("NUL characters are not allowed in URLs")
            await error_response(error)(scope, receive, send)
            return
        await self.app(scope, receive, send)


#: A ``\uXXXX`` escape of a UTF-16 surrogate; only then can parsed JSON hold a lone one.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _has_lone_surrogate(value: object) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")  # strict: refuses exactly the surrogates pairing did not join
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(item) for item in value)
    return False


def invalid_unicode(body: bytes) -> str | None:
    """Why a JSON body is not valid Unicode, or ``None`` when it is (or is not JSON at all: the
    JSON parser reports that). Python's parser accepts undecodable bytes and lone surrogate
    escapes (``"\ud800"``) and hands out text no database or encoder can take afterwards."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return "the body is not valid UTF-8"
    if not _SURROGATE_ESCAPE.search(body):  # the common case: no parse needed
        return None
    try:
        value = json.loads(body)
    except ValueError:
        return None
    if _has_lone_surrogate(value):
        return "a string holds a lone UTF-16 surrogate escape"
    return None


def _is_json(content_type: str | None) -> bool:
    """As FastAPI decides: no type, or an ``application/…json`` one, is parsed as JSON."""
    if not content_type:
        return True
    media = content_type.split(";", 1)[0].strip().lower()
    return media.startswith("application/") and (media.endswith("/json") or media.endswith("+json"))


class ApiBodyLimitMiddleware:
    """Answer ``413`` for API bodies over the cap, whether declared by ``Content-Length`` or
    streamed chunked, without buffering more than the cap; and ``400`` for a JSON body that is
    not valid Unicode, checked once here for every endpoint before the body is parsed."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        prefix: str = "/api/",
        max_bytes: int = MAX_API_BODY_BYTES,
        exempt: tuple[str, ...] = (),
    ):
        self.app = app
        self.prefix = prefix
        self.max_bytes = max_bytes
        #: Paths under ``prefix`` whose bodies are not JSON (tus PATCHes) and are capped there.
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (
            scope["type"] != "http"
            or not path.startswith(self.prefix)
            or (self.exempt and path.startswith(self.exempt))
        ):
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            too_large = PayloadTooLarge(f"Request body exceeds {self.max_bytes} bytes")
            await error_response(too_large)(scope, receive, send)
            return
        received = 0
        check_unicode = _is_json(_header(scope, b"content-type"))
        chunks: list[bytes] = []

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                received += len(chunk)
                # Raised inside the app's body parsing, so the app's handlers render them.
                if received > self.max_bytes:
                    raise RaisedInBody(
                        PayloadTooLarge(f"Request body exceeds {self.max_bytes} bytes")
                    )
                if check_unicode:
                    chunks.append(chunk)
                    if not message.get("more_body", False):
                        problem = invalid_unicode(b"".join(chunks))
                        if problem is not None:
                            raise RaisedInBody(
                                ValidationFailed(
                                    f"JSON text must be valid Unicode: {problem}",
                                    details={"body": [problem]},
                                    suggestion="Send UTF-8 JSON; escape text as \\uXXXX only "
                                    "with complete surrogate pairs",
                                )
                            )
            return message

        await self.app(scope, limited_receive, send)
