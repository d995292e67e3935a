"""The one place API requests are built, sent and read: base URL, key header, JSON, typed errors,
and the automatic retry of ``429 RATE_LIMITED`` after ``Retry-After``."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import httpx

from uploadkit_client.errors import (
    ConfigurationError,
    ConnectionFailed,
    RateLimited,
    error_from_response,
)

API_PREFIX = "/api/v1"
USER_AGENT = "uploadkit-python/0.1"
KEY_ENV = "UPLOADKIT_API_KEY"
URL_ENV = "UPLOADKIT_URL"

Params = Mapping[str, str | int | bool | None]


def api_base_url(url: str) -> str:
    """The API root for a server URL given with or without ``/api/v1`` (and trailing slashes)."""
    url = url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ConfigurationError(
            f"Server URL must start with http:// or https://, got {url!r}",
            suggestion=f"Set {URL_ENV}, e.g. https://uploads.example.com",
        )
    return url if url.endswith(API_PREFIX) else url + API_PREFIX


def resolve_credentials(api_key: str | None, base_url: str | None) -> tuple[str, str]:
    """Arguments first, then ``UPLOADKIT_API_KEY`` and ``UPLOADKIT_URL``."""
    key = api_key or os.environ.get(KEY_ENV)
    if not key:
        raise ConfigurationError(
            "No API key: pass api_key= or set the environment variable " + KEY_ENV,
            suggestion=f"export {KEY_ENV}=uk_live_…",
        )
    if any(char.isspace() or not char.isprintable() or not char.isascii() for char in key):
        # httpx would only refuse it when sending, as a connection failure ("Illegal header
        # value"); a key read from a file with its trailing newline is the usual cause.
        raise ConfigurationError(
            "Malformed API key: it contains whitespace, a newline or another character no key has",
            suggestion="Pass the key exactly as printed (uk_live_…), with no trailing newline",
        )
    url = base_url or os.environ.get(URL_ENV)
    if not url:
        raise ConfigurationError(
            "No server URL: pass base_url= or set the environment variable " + URL_ENV,
            suggestion=f"export {URL_ENV}=https://your-uploadkit-server",
        )
    return key, api_base_url(url)


class ApiClient:
    """Sends API requests with the key and maps every non-2xx answer to a typed error.

    A ``429`` is retried after its ``Retry-After`` (capped at ``max_retry_after`` seconds) up to
    ``rate_limit_retries`` times, then raised as ``RateLimited``.
    """

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str,
        timeout: float,
        rate_limit_retries: int = 3,
        max_retry_after: float = 60.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url
        self.rate_limit_retries = rate_limit_retries
        self.max_retry_after = max_retry_after
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=base_url,
            headers={"x-api-key": api_key, "user-agent": USER_AGENT},
            timeout=timeout,
            transport=transport,
        )

    def build_request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json: Any = None,
    ) -> httpx.Request:
        query = {k: _query_value(v) for k, v in (params or {}).items() if v is not None}
        return self._http.build_request(method, path, params=query, json=json)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json: Any = None,
    ) -> Any:
        """Send one API call and return its decoded JSON body.

        A POST carries an ``Idempotency-Key`` made for this call and sent again on each of its
        retries, so a retry of a POST whose answer was lost is not done twice by the server."""
        request = self.build_request(method, path, params=params, json=json)
        if method.upper() == "POST":
            request.headers["Idempotency-Key"] = uuid.uuid4().hex
        for attempt in range(self.rate_limit_retries + 1):
            try:
                response = self._http.send(request)
            except httpx.TransportError as error:
                if request.method == "POST" and attempt < self.rate_limit_retries:
                    self._sleep(min(self.max_retry_after, 2.0**attempt))
                    continue  # same key: the server replays if the first one got through
                raise ConnectionFailed(
                    f"Could not reach {self.base_url}: {error}",
                    suggestion="Check UPLOADKIT_URL and that the server is running",
                ) from error
            if response.status_code == 429 and attempt < self.rate_limit_retries:
                wait = error_from_response(response)
                delay = wait.retry_after if isinstance(wait, RateLimited) else None
                self._sleep(min(self.max_retry_after, 1.0 if delay is None else delay))
                continue
            if response.status_code >= 400:
                raise error_from_response(response)
            return response.json() if response.content else None
        raise AssertionError("unreachable")  # the last attempt always returns or raises

    def paginate(
        self, path: str, *, params: Params | None = None, limit: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every item of a cursor-paginated list, fetching pages as the caller iterates."""
        query: dict[str, str | int | bool | None] = {**(params or {}), "limit": limit}
        while True:
            page = self.request("GET", path, params=query)
            yield from page["items"]
            if not page.get("hasMore") or not page.get("nextCursor"):
                return
            query["cursor"] = page["nextCursor"]

    def close(self) -> None:
        self._http.close()


def _query_value(value: str | int | bool) -> str | int:
    return ("true" if value else "false") if isinstance(value, bool) else value
