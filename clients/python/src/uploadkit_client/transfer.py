"""Sending bytes of a source to storage: one byte range per PUT, streamed in chunks, retried.

``put_range`` reads ``CHUNK_SIZE`` at a time as httpx sends (so progress is reported as bytes
go and a stop takes effect within one chunk), retries as its ``RetryPolicy`` says, and takes
back the progress of an attempt that failed. ``Stopped`` is raised inside a request body or a
backoff wait when ``halted()`` turns true (cancelled, or another part failed).
"""

from __future__ import annotations

import base64
import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx

from uploadkit_client.errors import (
    ChecksumMismatch,
    ConnectionFailed,
    StorageRejected,
    UploadKitError,
    error_from_response,
)
from uploadkit_client.retry import RetryPolicy
from uploadkit_client.sources import UploadSource

MIB = 1024 * 1024
CHUNK_SIZE = MIB  # per read and per progress report; smaller chunks cost throughput in httpx
#: How often waits (a backoff, the caller joining workers) look at their stop condition.
POLL_SECONDS = 0.1


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


class Stopped(Exception):
    """Raised inside a request body when the upload must stop (cancelled, another part failed)."""


class ProgressTracker:
    """Bytes sent of one source, from every thread sending it."""

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


def sha256_of(source: UploadSource, halted: Callable[[], bool]) -> str:
    """Base64 SHA-256 of the whole source, read once in ``CHUNK_SIZE`` pieces."""
    digest = hashlib.sha256()
    position = 0
    while position < source.size:
        if halted():
            raise Stopped
        chunk = source.read(position, min(CHUNK_SIZE, source.size - position))
        if not chunk:
            raise UploadKitError(f"{source.name} became shorter while uploading")
        digest.update(chunk)
        position += len(chunk)
    return base64.b64encode(digest.digest()).decode()


def put_range(
    storage: httpx.Client,
    url: str,
    source: UploadSource,
    *,
    offset: int,
    length: int,
    content_type: str | None,
    tracker: ProgressTracker,
    halted: Callable[[], bool],
    retry: RetryPolicy,
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
    for attempt in retry.attempts():
        body = _RangeBody(
            source,
            offset=offset,
            length=length,
            tracker=tracker,
            halted=halted,
            hashed=digest_out is not None,
        )
        try:
            response = storage.put(url, content=body.chunks(), headers=headers)
        except httpx.TransportError as error:
            failure = ConnectionFailed(f"Sending to storage failed: {error}")
        except BaseException:
            body.take_back()
            raise
        else:
            if response.status_code < 300:
                if digest_out is not None:
                    digest_out.append(body.sha256())
                return response
            if response.status_code == 412 and attempt > 0 and extra_headers:
                return response  # an earlier attempt stored it (see above)
            failure = storage_error(response)
            if not retry.retryable(response.status_code):
                body.take_back()
                raise failure
        body.take_back()
        if attempt < retry.max_retries:
            sleep_unless(halted, retry.delay(attempt))
    assert failure is not None
    raise failure


class _RangeBody:
    """One attempt's request body: the byte range, read a chunk at a time as httpx sends it,
    counted as progress (taken back if the attempt fails) and hashed if asked."""

    def __init__(
        self,
        source: UploadSource,
        *,
        offset: int,
        length: int,
        tracker: ProgressTracker,
        halted: Callable[[], bool],
        hashed: bool,
    ) -> None:
        self._source = source
        self._offset = offset
        self._end = offset + length
        self._tracker = tracker
        self._halted = halted
        self._digest = hashlib.sha256() if hashed else None
        self._sent = 0

    def chunks(self) -> Iterator[bytes]:
        position = self._offset
        while position < self._end:
            if self._halted():
                raise Stopped
            chunk = self._source.read(position, min(CHUNK_SIZE, self._end - position))
            if not chunk:
                raise UploadKitError(f"{self._source.name} became shorter while uploading")
            if self._digest is not None:
                self._digest.update(chunk)
            position += len(chunk)
            self._sent += len(chunk)
            self._tracker.add(len(chunk))
            yield chunk

    def take_back(self) -> None:
        """Uncount the progress of this attempt (it failed; a retry sends the bytes again)."""
        self._tracker.add(-self._sent)

    def sha256(self) -> str:
        """Base64 SHA-256 of the bytes sent (``hashed`` bodies only)."""
        assert self._digest is not None
        return base64.b64encode(self._digest.digest()).decode()


def storage_error(response: httpx.Response) -> UploadKitError:
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


def sleep_unless(halted: Callable[[], bool], seconds: float) -> None:
    """Sleep ``seconds``, raising ``Stopped`` as soon as ``halted()`` is true."""
    deadline = time.monotonic() + seconds
    while (remaining := deadline - time.monotonic()) > 0:
        if halted():
            raise Stopped
        time.sleep(min(POLL_SECONDS, remaining))
