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

import aiohttp
import httpx
import yarl

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


def create_http_client(*, timeout: float, max_connections: int) -> aiohttp.ClientSession:
    """One client per dispatcher (create it inside the event loop). aiohttp rather than httpx:
    on this path the client is most of a delivery's cost, and httpx's pool spends time
    quadratic in the connections open (about 10x slower at 16 in flight, see
    docs/benchmarks.md). Every connection it may open is kept alive for ``KEEPALIVE_EXPIRY``
    seconds idle; proxies from the environment are ignored (they would bypass the address
    check); bodies are read as sent, never decompressed."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(
            limit=max_connections, limit_per_host=0, keepalive_timeout=KEEPALIVE_EXPIRY
        ),
        timeout=aiohttp.ClientTimeout(total=timeout),
        trust_env=False,
        auto_decompress=False,
        skip_auto_headers=("Accept-Encoding",),
    )


async def _read_capped(response: aiohttp.ClientResponse) -> tuple[bytes, bool]:
    """At most ``RESPONSE_READ_LIMIT`` bytes of the body, and whether that was all of it."""
    received = bytearray()
    while len(received) < RESPONSE_READ_LIMIT:
        chunk = await response.content.read(RESPONSE_READ_LIMIT - len(received))
        if not chunk:
            return bytes(received), True
        received.extend(chunk)
    return bytes(received), response.content.at_eof()


async def _request_target(
    url: str, *, allow_private: bool
) -> tuple[httpx.URL, dict[str, str], str | None]:
    """Where to send: the URL (pinned to a checked address when guarded), extra headers and
    the TLS server name (SNI and certificate check) when it differs from the URL's host."""
    target = parse_target(url, allow_private=allow_private, refuse_local_names=False)
    original = httpx.URL(url)
    if allow_private:
        return original, {}, None
    addresses = await resolve_public(target, allow_private=False)
    pinned = original.copy_with(host=str(addresses[0]))
    # Connection: close, because the pool is keyed by address: a kept-alive connection whose TLS
    # was verified for one name must not carry a request for another name on the same address.
    headers = {"Host": original.netloc.decode("ascii"), "Connection": "close"}
    return pinned, headers, target.host


def _describe(error: BaseException) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


async def send_webhook(
    client: aiohttp.ClientSession,
    webhook: OutgoingWebhook,
    *,
    time_limit: float,
    allow_private: bool,
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
            url, extra_headers, server_hostname = await _request_target(
                webhook.url, allow_private=allow_private
            )
            async with client.post(
                yarl.URL(str(url), encoded=True),
                data=webhook.body,
                headers={**headers, **extra_headers},
                allow_redirects=False,
                server_hostname=server_hostname,
            ) as response:
                raw, complete = await _read_capped(response)
                status = response.status
                if not complete:  # never download the rest to keep the connection
                    response.close()
    except UnsafeWebhookUrl as error:
        return result(error=f"refused: {error}")
    except TimeoutError:
        return result(error=f"timed out after {time_limit:g} s")
    except (aiohttp.ClientError, OSError, ValueError) as error:
        return result(error=_describe(error))
    excerpt = raw.decode("utf-8", errors="replace")[:EXCERPT_LIMIT]
    return result(status_code=status, response_excerpt=excerpt)
