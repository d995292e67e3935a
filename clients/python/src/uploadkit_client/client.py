"""``UploadKit``: the client. Upload with ``client.upload(...)``; manage everything else through
``client.files``, ``client.projects``, ``client.routes``, ``client.keys``, ``client.usage`` and
``client.webhooks``.

>>> from uploadkit_client import UploadKit
>>> with UploadKit() as client:          # UPLOADKIT_API_KEY and UPLOADKIT_URL from the environment
...     file = client.upload("photo.jpg", route="imageUploader", metadata={"userId": "u1"})
...     print(file["url"])
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from uploadkit_client.api_client import ApiClient, resolve_credentials
from uploadkit_client.errors import ChecksumMismatch, ConnectionFailed, error_from_response
from uploadkit_client.resources import Files, Keys, Projects, Routes, Transforms, Usage, Webhooks
from uploadkit_client.resume import ResumeStore, ResumeToken, default_state_dir
from uploadkit_client.retry import RetryPolicy
from uploadkit_client.sources import Uploadable, open_source
from uploadkit_client.transfer import CHUNK_SIZE, ProgressCallback
from uploadkit_client.uploader import DEFAULT_CONCURRENCY, DEFAULT_MULTIPART_THRESHOLD, Uploader

DEFAULT_TIMEOUT = 60.0


class UploadKit:
    """A synchronous client, safe to share between threads.

    ``api_key`` defaults to ``UPLOADKIT_API_KEY``, ``base_url`` to ``UPLOADKIT_URL`` (the server's
    URL, with or without ``/api/v1``); ``ConfigurationError`` when either is missing.

    Storage PUTs are retried ``max_retries`` times, after ``retry_base_delay`` x 1, 2, 4 ... s;
    API calls answered ``429`` are retried after ``Retry-After`` (at most ``max_retry_after`` s)
    up to ``rate_limit_retries`` times. ``state_dir`` keeps resumable uploads
    (``UPLOADKIT_STATE_DIR``, default ``~/.cache/uploadkit/uploads``); ``resumable=False`` keeps
    nothing on disk. ``checksums`` (default on) has uploads declare SHA-256 checksums that the
    server and storage enforce; ``download`` verifies the file's ``sha256``. ``transport`` is
    handed to httpx (proxies, tests).
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int = 3,
        retry_base_delay: float = 1.0,
        rate_limit_retries: int = 3,
        max_retry_after: float = 60.0,
        concurrency: int = DEFAULT_CONCURRENCY,
        multipart_threshold: int = DEFAULT_MULTIPART_THRESHOLD,
        state_dir: str | Path | None = None,
        resumable: bool = True,
        checksums: bool = True,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        key, url = resolve_credentials(api_key, base_url)
        self.base_url = url
        self._api = ApiClient(
            api_key=key,
            base_url=url,
            timeout=timeout,
            rate_limit_retries=rate_limit_retries,
            max_retry_after=max_retry_after,
            transport=transport,
            sleep=sleep,
        )
        # Storage gets its own client: presigned URLs must never receive the API key.
        self._storage = httpx.Client(
            timeout=timeout,
            transport=transport,
            limits=httpx.Limits(max_connections=max(10, 2 * concurrency)),
            headers={"user-agent": "uploadkit-python/0.1"},
        )
        store = None
        if resumable:
            scope = url + "#" + hashlib.sha256(key.encode()).hexdigest()[:16]
            store = ResumeStore(Path(state_dir) if state_dir else default_state_dir(), scope=scope)
        self._uploader = Uploader(
            self._api,
            self._storage,
            retry=RetryPolicy(max_retries=max_retries, base_delay=retry_base_delay),
            concurrency=concurrency,
            multipart_threshold=multipart_threshold,
            resume_store=store,
            checksums=checksums,
        )
        self.files = Files(self._api)
        self.projects = Projects(self._api)
        self.routes = Routes(self._api)
        self.keys = Keys(self._api)
        self.usage = Usage(self._api)
        self.webhooks = Webhooks(self._api)
        self.transforms = Transforms(self._api)

    def upload(
        self,
        source: Uploadable,
        *,
        route: str,
        file_name: str | None = None,
        content_type: str | None = None,
        metadata: dict[str, Any] | None = None,
        on_progress: ProgressCallback | None = None,
        resume: bool | ResumeToken = True,
        cancel: threading.Event | None = None,
    ) -> dict[str, Any]:
        """Upload a path, bytes or a binary file object through file route ``route`` and return
        the completed file object.

        Above the multipart threshold (10 MiB) the file goes in parts, several at a time. A path
        whose upload was interrupted resumes where it stopped; any source resumes from
        ``resume=UploadInterrupted.resume_token``. ``resume=False`` always starts afresh. Set
        ``cancel`` (from another thread) to stop and abort the upload on the server. The name
        and content type default to the file's (guessed from the extension).
        """
        opened = open_source(source, file_name=file_name, content_type=content_type)
        try:
            return self._uploader.upload(
                opened,
                route=route,
                metadata=metadata,
                on_progress=on_progress,
                resume=resume,
                cancel=cancel,
            )
        finally:
            opened.close()

    def download(self, key: str, destination: str | Path, *, verify: bool = True) -> dict[str, Any]:
        """Download file ``key`` to ``destination`` (a path, or a directory to put it in under
        its name) and return its file object. The bytes are hashed as they arrive and, with
        ``verify``, checked against the file's ``sha256``: on a mismatch nothing is left at
        ``destination`` and ``ChecksumMismatch`` is raised. Streams: memory stays flat."""
        file: dict[str, Any] = self.files.get(key)
        target = Path(destination)
        if target.is_dir():
            target = target / Path(str(file["fileName"])).name
        partial = target.with_name(f".{target.name}.{secrets.token_hex(4)}.part")
        digest = hashlib.sha256()
        try:
            with (
                self._storage.stream("GET", str(file["url"]), follow_redirects=True) as response,
                open(partial, "xb") as out,
            ):
                if response.status_code >= 300:
                    response.read()
                    raise error_from_response(response)
                for chunk in response.iter_bytes(CHUNK_SIZE):
                    digest.update(chunk)
                    out.write(chunk)
            expected = file.get("sha256")
            if verify and expected and digest.hexdigest() != expected:
                raise ChecksumMismatch(
                    f"Downloaded {key} has SHA-256 {digest.hexdigest()}, the file's is {expected}",
                    suggestion="Download it again; if it persists, the stored object is damaged",
                )
            os.replace(partial, target)
        except httpx.TransportError as error:
            raise ConnectionFailed(f"Downloading {key} failed: {error}") from error
        finally:
            with contextlib.suppress(FileNotFoundError):
                partial.unlink()
        return file

    def request(self, method: str, path: str, *, params: Any = None, json: Any = None) -> Any:
        """Any API call by path (relative to ``/api/v1``), with the same errors and retries."""
        return self._api.request(method, path, params=params, json=json)

    def close(self) -> None:
        self._api.close()
        self._storage.close()

    def __enter__(self) -> UploadKit:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
