"""One HTTP attempt of one delivery: guarded, signed, time-boxed and size-capped.

The whole attempt (DNS, connect, TLS, request, reading the response head and excerpt) must finish
within ``time_limit`` seconds. Redirects are not followed (a 3xx is a failed attempt): following one
would send the signed body to a URL nobody checked. With the SSRF guard on, the request goes to
the address that was checked, with the original name in ``Host`` and TLS SNI, so DNS cannot
change between check and connect.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime

import httpx

from uploadkit_server.clock import utcnow
from uploadkit_server.core.webhooks.signing import signed_headers
from uploadkit_server.core.webhooks.ssrf import UnsafeWebhookUrl, parse_target, resolve_public

#: Bytes of a receiver's response body read at most; the rest is never downloaded.
RESPONSE_READ_LIMIT = 4096
#: Characters of that response kept on the attempt record.
EXCERPT_LIMIT = 1024
USER_AGENT = "UploadKit-Webhooks/1.0"
#: Seconds an idle kept-alive connection to a receiver stays open.
KEEPALIVE_EXPIRY = 30.0


@dataclass(frozen=True, slots=True)
class AttemptResult:
    attempted_at: datetime
    duration_ms: int
    status_code: int | None = None
    error: str | None = None
    response_excerpt: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass(frozen=True, slots=True)
class OutgoingWebhook:
    message_id: str
    url: str
    body: bytes
    signing_key: str
    secrets: tuple[str, ...]


def create_http_client(
    *, timeout: float, max_connections: int, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    """One client per dispatcher. Every connection it may open is also kept alive (a pool
    that keeps fewer than it opens closes and reopens connections under load), for
    ``KEEPALIVE_EXPIRY`` seconds idle."""
    return httpx.AsyncClient(
        follow_redirects=False,
        timeout=httpx.Timeout(timeout),
        trust_env=False,  # proxies from the environment would bypass the address check
        limits=httpx.Limits(
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=KEEPALIVE_EXPIRY,
        ),
        transport=transport,
    )


async def _read_capped(response: httpx.Response) -> bytes:
    received = bytearray()
    async for chunk in response.aiter_raw():
        received.extend(chunk)
        if len(received) >= RESPONSE_READ_LIMIT:
            break
    return bytes(received[:RESPONSE_READ_LIMIT])


async def _request_target(
    url: str, *, allow_private: bool
) -> tuple[httpx.URL, dict[str, str], dict[str, str]]:
    """Where to send: the URL (pinned to a checked address when guarded), extra headers and
    request extensions."""
    target = parse_target(url, allow_private=allow_private, refuse_local_names=False)
    original = httpx.URL(url)
    if allow_private:
        return original, {}, {}
    addresses = await resolve_public(target, allow_private=False)
    pinned = original.copy_with(host=str(addresses[0]))
    # Connection: close, because the pool is keyed by address: a kept-alive connection whose TLS
    # was verified for one name must not carry a request for another name on the same address.
    headers = {"Host": original.netloc.decode("ascii"), "Connection": "close"}
    return pinned, headers, {"sni_hostname": target.host}


def _describe(error: BaseException) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


async def send_webhook(
    client: httpx.AsyncClient, webhook: OutgoingWebhook, *, time_limit: float, allow_private: bool
) -> AttemptResult:
    """POST the body once. Never raises for the receiver's or the network's failures: they are
    the attempt's result."""
    attempted_at = utcnow()
    started = time.monotonic()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Accept-Encoding": "identity",
        **signed_headers(
            webhook.body,
            url=webhook.url,
            message_id=webhook.message_id,
            signing_key=webhook.signing_key,
            secrets=webhook.secrets,
            now=attempted_at,
        ),
    }

    def result(**fields: object) -> AttemptResult:
        duration = int((time.monotonic() - started) * 1000)
        return AttemptResult(attempted_at=attempted_at, duration_ms=duration, **fields)  # type: ignore[arg-type]

    try:
        async with asyncio.timeout(time_limit):
            url, extra_headers, extensions = await _request_target(
                webhook.url, allow_private=allow_private
            )
            request = client.build_request(
                "POST",
                url,
                content=webhook.body,
                headers={**headers, **extra_headers},
                extensions=extensions,
            )
            response = await client.send(request, stream=True)
            try:
                raw = await _read_capped(response)
            finally:
                await response.aclose()
    except UnsafeWebhookUrl as error:
        return result(error=f"refused: {error}")
    except (TimeoutError, httpx.TimeoutException):
        return result(error=f"timed out after {time_limit:g} s")
    except (httpx.HTTPError, OSError, ValueError) as error:
        return result(error=_describe(error))
    excerpt = raw.decode("utf-8", errors="replace")[:EXCERPT_LIMIT]
    return result(status_code=response.status_code, response_excerpt=excerpt)
