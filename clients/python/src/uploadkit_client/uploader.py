"""``upload``: request a presigned URL, PUT the bytes, complete — or, above the multipart threshold,
init, PUT parts (several in flight, each retried with exponential backoff), complete.

Checksums (on by default): a single PUT declares the file's SHA-256 on request (one pass over
the file first, then the upload; the store refuses bytes that differ) and sends it as
``x-amz-checksum-sha256``; a multipart upload hashes each part while sending it (one read of
the file) and hands the part checksums to complete, where the server checks them.

Failure model:
- a part that keeps failing stops the upload with ``UploadInterrupted``; the parts already stored
  stay on the server and the next ``upload`` of the same file continues from them;
- ``cancel.set()`` (or an ``on_progress`` callback raising ``UploadCancelled``) stops the transfer
  and aborts the multipart upload on the server, which removes every stored part;
- ``KeyboardInterrupt`` stops the workers and propagates; the upload stays resumable.
"""

from __future__ import annotations

import base64
import hashlib
import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from uploadkit_client.api_client import ApiClient
from uploadkit_client.errors import (
    ChecksumMismatch,
    ConnectionFailed,
    NotFound,
    StorageRejected,
    UploadCancelled,
    UploadInterrupted,
    UploadKitError,
    UploadNotVerified,
    error_from_response,
)
from uploadkit_client.resume import ResumeStore, ResumeToken
from uploadkit_client.sources import UploadSource

MIB = 1024 * 1024
DEFAULT_MULTIPART_THRESHOLD = 10 * MIB
DEFAULT_CONCURRENCY = 4
CHUNK_SIZE = MIB  # per read and per progress report; smaller chunks cost throughput in httpx
_POLL_SECONDS = 0.1


@dataclass(frozen=True, slots=True)
class Progress:
    """Handed to ``on_progress`` as bytes go out (from worker threads, one call at a time)."""

    file_name: str
    bytes_sent: int
    total_bytes: int

    @property
    def fraction(self) -> float:
        return 1.0 if self.total_bytes == 0 else self.bytes_sent / self.total_bytes


ProgressCallback = Callable[[Progress], None]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Backoff before retry ``n`` (0-based) is ``base_delay * 2**n``: 1 s, 2 s, 4 s by default."""

    max_retries: int = 3
    base_delay: float = 1.0

    def delay(self, attempt: int) -> float:
        return float(self.base_delay * 2**attempt)


class _Stopped(Exception):
    """Raised inside a request body when the upload must stop (cancelled, another part failed)."""


class _Tracker:
    def __init__(self, source: UploadSource, callback: ProgressCallback | None) -> None:
        self._name = source.name
        self._total = source.size
        self._callback = callback
        self._sent = 0
        self._lock = threading.Lock()

    def add(self, count: int) -> None:
        """Count bytes sent; a negative count takes back a failed attempt's bytes quietly."""
        with self._lock:  # also serialises the callback, so it need not be thread-safe
            self._sent += count
            if self._callback is not None and count > 0:
                self._callback(Progress(self._name, self._sent, self._total))


def _part_length(size: int, part_size: int, number: int) -> int:
    return min(part_size, size - (number - 1) * part_size)


def _storage_error(response: httpx.Response) -> UploadKitError:
    parsed = error_from_response(response)
    # The server's envelope, or S3's XML (BadDigest: the body does not match the signed header).
    if isinstance(parsed, ChecksumMismatch) or b"<Code>BadDigest</Code>" in response.content:
        return ChecksumMismatch(
            f"Storage refused the upload: the bytes do not match their checksum ({parsed.message})",
            status=response.status_code,
            suggestion="The file changed or was damaged on the way; upload it again",
        )
    return StorageRejected(
        f"Storage refused the upload ({response.status_code}): {parsed.message}",
        status=response.status_code,
        suggestion=parsed.suggestion or "The presigned URL may have expired; upload again",
    )


def _retryable(status: int) -> bool:
    return status in (408, 429) or status >= 500


class Uploader:
    def __init__(
        self,
        api: ApiClient,
        storage: httpx.Client,
        *,
        retry: RetryPolicy,
        concurrency: int = DEFAULT_CONCURRENCY,
        multipart_threshold: int = DEFAULT_MULTIPART_THRESHOLD,
        resume_store: ResumeStore | None = None,
        checksums: bool = True,
    ) -> None:
        self.checksums = checksums
        self.api = api
        self.storage = storage
        self.retry = retry
        self.concurrency = concurrency
        self.multipart_threshold = multipart_threshold
        self.resume_store = resume_store

    def upload(
        self,
        source: UploadSource,
        *,
        route: str,
        metadata: dict[str, Any] | None = None,
        on_progress: ProgressCallback | None = None,
        resume: bool | ResumeToken = True,
        cancel: threading.Event | None = None,
    ) -> dict[str, Any]:
        tracker = _Tracker(source, on_progress)
        if source.size > self.multipart_threshold or isinstance(resume, ResumeToken):
            return self._multipart(source, route, metadata, tracker, resume, cancel)
        return self._single(source, route, metadata, tracker, cancel)

    def _sha256_of(self, source: UploadSource, halted: Callable[[], bool]) -> str:
        """Base64 SHA-256 of the whole source, read once in ``CHUNK_SIZE`` pieces."""
        digest = hashlib.sha256()
        position = 0
        while position < source.size:
            if halted():
                raise _Stopped
            chunk = source.read(position, min(CHUNK_SIZE, source.size - position))
            if not chunk:
                raise UploadKitError(f"{source.name} became shorter while uploading")
            digest.update(chunk)
            position += len(chunk)
        return base64.b64encode(digest.digest()).decode()

    def _describe(
        self, source: UploadSource, route: str, metadata: dict[str, Any] | None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "fileName": source.name,
            "fileSize": source.size,
            "contentType": source.content_type,
            "routeSlug": route,
        }
        if metadata is not None:
            body["metadata"] = metadata
        return body

    # -- single PUT --------------------------------------------------------------------------

    def _single(
        self,
        source: UploadSource,
        route: str,
        metadata: dict[str, Any] | None,
        tracker: _Tracker,
        cancel: threading.Event | None,
    ) -> dict[str, Any]:
        def halted() -> bool:
            return cancel is not None and cancel.is_set()

        description = self._describe(source, route, metadata)
        checksum: str | None = None
        if self.checksums:
            try:
                checksum = self._sha256_of(source, halted)
            except _Stopped:
                raise UploadCancelled(f"Upload of {source.name} was cancelled") from None
            description["checksum"] = {"algorithm": "sha256", "value": checksum}
        ticket = self.api.request("POST", "/upload/request", json=description)
        try:
            self._put(
                ticket["uploadUrl"],
                source,
                offset=0,
                length=source.size,
                content_type=source.content_type,
                tracker=tracker,
                halted=halted,
                checksum=checksum,
                extra_headers=dict(ticket.get("uploadHeaders") or {}),
            )
        except _Stopped:
            # A single upload has nothing stored to abort; the server expires the pending file.
            raise UploadCancelled(
                f"Upload of {source.name} was cancelled", file_id=ticket["fileId"]
            ) from None
        result: dict[str, Any] = self.api.request(
            "POST", "/upload/complete", json={"fileId": ticket["fileId"]}
        )
        return result

    # -- multipart ---------------------------------------------------------------------------

    def _multipart(
        self,
        source: UploadSource,
        route: str,
        metadata: dict[str, Any] | None,
        tracker: _Tracker,
        resume: bool | ResumeToken,
        cancel: threading.Event | None,
    ) -> dict[str, Any]:
        token, part_size, etags, urls = self._start_or_resume(source, route, metadata, resume)
        tracker.add(sum(_part_length(source.size, part_size, n) for n in etags))
        stop = threading.Event()
        digests: dict[int, str] = {}  # parts sent now; parts stored by an earlier run have none
        failure = self._put_parts(
            source, token, part_size, urls, etags, tracker, stop, cancel, digests
        )
        if isinstance(failure, UploadCancelled) or (cancel is not None and cancel.is_set()):
            self._forget(route, source)
            outcome = "aborted"
            try:
                self.api.request(
                    "POST",
                    "/upload/multipart/abort",
                    json={"fileId": token.file_id, "uploadId": token.upload_id},
                )
            except UploadKitError as error:  # the expiry job removes the parts later
                outcome = f"not aborted ({error.code}); the server will expire it"
            raise UploadCancelled(
                f"Upload of {source.name} was cancelled and {outcome}",
                file_id=token.file_id,
                upload_id=token.upload_id,
            )
        if failure is not None:
            raise UploadInterrupted(
                f"Upload of {source.name} stopped: {failure}; {len(etags)} of "
                f"{max(1, math.ceil(source.size / part_size))} parts are stored",
                resume_token=token,
                suggestion="Run the same upload again to resume it",
            ) from failure
        body: dict[str, Any] = {
            "fileId": token.file_id,
            "uploadId": token.upload_id,
            "parts": [_part_entry(n, etags[n], digests.get(n)) for n in sorted(etags)],
        }
        if metadata is not None:
            body["metadata"] = metadata
        try:
            result: dict[str, Any] = self.api.request(
                "POST", "/upload/multipart/complete", json=body
            )
        except (UploadNotVerified, NotFound):
            self._forget(route, source)  # the upload is over on the server; nothing to resume
            raise
        self._forget(route, source)
        return result

    def _start_or_resume(
        self,
        source: UploadSource,
        route: str,
        metadata: dict[str, Any] | None,
        resume: bool | ResumeToken,
    ) -> tuple[ResumeToken, int, dict[int, str], dict[int, str]]:
        """The upload's token, part size, parts already stored (number -> ETag) and URLs of
        the parts still to send."""
        if isinstance(resume, ResumeToken):
            return self._resume(resume, source)
        if resume and self.resume_store is not None and source.fingerprint is not None:
            saved = self.resume_store.load(route, source.fingerprint)
            if saved is not None:
                try:
                    return self._resume(saved, source)
                except (NotFound, _Mismatch):  # aborted, expired or completed meanwhile
                    self.resume_store.forget(route, source.fingerprint)
        ticket = self.api.request(
            "POST", "/upload/multipart/init", json=self._describe(source, route, metadata)
        )
        token = ResumeToken(file_id=ticket["fileId"], upload_id=ticket["uploadId"])
        if self.resume_store is not None and source.fingerprint is not None:
            self.resume_store.save(route, source.fingerprint, token)
        urls = {int(p["partNumber"]): str(p["uploadUrl"]) for p in ticket["parts"]}
        return token, int(ticket["partSize"]), {}, urls

    def _resume(
        self, token: ResumeToken, source: UploadSource
    ) -> tuple[ResumeToken, int, dict[int, str], dict[int, str]]:
        listing = self.api.request(
            "GET",
            "/upload/multipart/parts",
            params={"fileId": token.file_id, "uploadId": token.upload_id},
        )
        part_size = int(listing["partSize"])
        count = int(listing["partCount"])
        needed = max(1, math.ceil(source.size / part_size))
        if count != needed:
            raise _Mismatch(f"Upload {token.file_id} has {count} parts; this file needs {needed}")
        etags = {
            int(p["partNumber"]): str(p["etag"])
            for p in listing["parts"]
            if p["size"] == _part_length(source.size, part_size, int(p["partNumber"]))
        }
        missing = [n for n in range(1, count + 1) if n not in etags]
        urls: dict[int, str] = {}
        if missing:
            signed = self.api.request(
                "POST",
                "/upload/multipart/sign-parts",
                json={"fileId": token.file_id, "uploadId": token.upload_id, "partNumbers": missing},
            )
            urls = {int(p["partNumber"]): str(p["uploadUrl"]) for p in signed["parts"]}
        return token, part_size, etags, urls

    def _sign_part(self, token: ResumeToken, number: int) -> str:
        signed = self.api.request(
            "POST",
            "/upload/multipart/sign-parts",
            json={"fileId": token.file_id, "uploadId": token.upload_id, "partNumbers": [number]},
        )
        return str(signed["parts"][0]["uploadUrl"])

    def _forget(self, route: str, source: UploadSource) -> None:
        if self.resume_store is not None and source.fingerprint is not None:
            self.resume_store.forget(route, source.fingerprint)

    def _put_parts(
        self,
        source: UploadSource,
        token: ResumeToken,
        part_size: int,
        urls: dict[int, str],
        etags: dict[int, str],
        tracker: _Tracker,
        stop: threading.Event,
        cancel: threading.Event | None,
        digests: dict[int, str],
    ) -> BaseException | None:
        """Send the parts ``concurrency`` at a time, filling ``etags``; return the first failure.

        After a failure no new part starts, and the parts in flight may finish (more to resume
        from); a cancel breaks those off too. Every worker has ended when this returns, so no
        request is left running behind the caller's back.
        """
        queue = iter(sorted(urls.items()))
        lock = threading.Lock()
        no_new_parts = threading.Event()
        failures: list[BaseException] = []

        def send(number: int, url: str) -> None:
            sha256: list[str] = []

            def put(to: str) -> httpx.Response:
                return self._put(
                    to,
                    source,
                    offset=(number - 1) * part_size,
                    length=_part_length(source.size, part_size, number),
                    content_type=None,
                    tracker=tracker,
                    halted=stop.is_set,
                    digest_out=sha256 if self.checksums else None,
                )

            try:
                response = put(url)
            except StorageRejected as refused:
                if refused.status != 403:
                    raise
                # Part URLs live an hour and a long upload outlives them: sign this one again.
                response = put(self._sign_part(token, number))
            etag: str | None = response.headers.get("etag")
            if not etag:
                raise StorageRejected(f"Storage returned no ETag for part {number}")
            with lock:
                etags[number] = etag
                if sha256:
                    digests[number] = sha256[-1]

        def worker() -> None:
            while not no_new_parts.is_set():
                with lock:
                    item = next(queue, None)
                if item is None:
                    return
                try:
                    send(*item)
                except _Stopped:
                    return
                except BaseException as error:  # handed to the caller's thread below
                    with lock:
                        failures.append(error)
                    no_new_parts.set()
                    if isinstance(error, UploadCancelled):
                        stop.set()
                    return

        workers = [
            threading.Thread(target=worker, name=f"uploadkit-part-{n}", daemon=True)
            for n in range(min(self.concurrency, len(urls)))
        ]
        try:
            for thread in workers:
                thread.start()
            while alive := [thread for thread in workers if thread.is_alive()]:
                alive[0].join(_POLL_SECONDS)
                if cancel is not None and cancel.is_set():
                    stop.set()
                    no_new_parts.set()
        except BaseException:  # KeyboardInterrupt: stop the workers, keep what is stored
            stop.set()
            no_new_parts.set()
            for thread in workers:
                if thread.ident is not None:  # started
                    thread.join()
            raise
        return failures[0] if failures else None

    def _put(
        self,
        url: str,
        source: UploadSource,
        *,
        offset: int,
        length: int,
        content_type: str | None,
        tracker: _Tracker,
        halted: Callable[[], bool],
        checksum: str | None = None,
        digest_out: list[str] | None = None,
        extra_headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """PUT ``length`` bytes from ``offset``, streamed in chunks (progress, prompt stop), with
        retries on network errors, 408/429 and 5xx after 1 s, 2 s, 4 s… ``checksum`` (base64
        SHA-256, as declared) goes in ``x-amz-checksum-sha256``; with ``digest_out`` the bytes
        are hashed as they go and the base64 SHA-256 of the attempt that succeeded is appended.

        ``extra_headers``: what the server said the PUT must carry (``uploadHeaders``). With a
        conditional write (``If-None-Match: *``) a retry after a PUT whose answer was lost gets
        ``412``: the bytes are stored, and complete verifies them."""
        headers = {**(extra_headers or {}), "content-length": str(length)}
        if content_type is not None:
            headers["content-type"] = content_type
        if checksum is not None:
            headers["x-amz-checksum-sha256"] = checksum
        failure: UploadKitError | None = None
        for attempt in range(self.retry.max_retries + 1):
            sent = 0
            digest = hashlib.sha256() if digest_out is not None else None

            def body(digest: Any = digest) -> Iterator[bytes]:
                nonlocal sent
                position, end = offset, offset + length
                while position < end:
                    if halted():
                        raise _Stopped
                    chunk = source.read(position, min(CHUNK_SIZE, end - position))
                    if not chunk:
                        raise UploadKitError(f"{source.name} became shorter while uploading")
                    if digest is not None:
                        digest.update(chunk)
                    position += len(chunk)
                    sent += len(chunk)
                    tracker.add(len(chunk))
                    yield chunk

            try:
                response = self.storage.put(url, content=body(), headers=headers)
            except httpx.TransportError as error:
                failure = ConnectionFailed(f"Sending to storage failed: {error}")
            except BaseException:
                tracker.add(-sent)
                raise
            else:
                if response.status_code < 300:
                    if digest is not None and digest_out is not None:
                        digest_out.append(base64.b64encode(digest.digest()).decode())
                    return response
                if response.status_code == 412 and attempt > 0 and extra_headers:
                    return response  # an earlier attempt stored it (see above)
                failure = _storage_error(response)
                if not _retryable(response.status_code):
                    tracker.add(-sent)
                    raise failure
            tracker.add(-sent)
            if attempt < self.retry.max_retries:
                _sleep_unless(halted, self.retry.delay(attempt))
        assert failure is not None
        raise failure


def _part_entry(number: int, etag: str, sha256: str | None) -> dict[str, Any]:
    entry: dict[str, Any] = {"partNumber": number, "etag": etag}
    if sha256 is not None:
        entry["checksum"] = {"algorithm": "sha256", "value": sha256}
    return entry


class _Mismatch(UploadKitError):
    """A saved upload does not fit the file being uploaded now."""

    code = "RESUME_MISMATCH"


def _sleep_unless(halted: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while (remaining := deadline - time.monotonic()) > 0:
        if halted():
            raise _Stopped
        time.sleep(min(_POLL_SECONDS, remaining))
