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

This module decides what to send; ``transfer.py`` sends one byte range (retried as
``retry.py``'s ``RetryPolicy`` says) and ``parts.py`` runs the part workers.
"""

from __future__ import annotations

import math
import threading
from typing import Any

import httpx

from uploadkit_client.api_client import ApiClient
from uploadkit_client.errors import (
    NotFound,
    StorageRejected,
    UploadCancelled,
    UploadInterrupted,
    UploadKitError,
    UploadNotVerified,
)
from uploadkit_client.parts import send_parts
from uploadkit_client.resume import ResumeStore, ResumeToken
from uploadkit_client.retry import RetryPolicy
from uploadkit_client.sources import UploadSource
from uploadkit_client.transfer import (
    MIB,
    ProgressCallback,
    ProgressTracker,
    Stopped,
    put_range,
    sha256_of,
)

DEFAULT_MULTIPART_THRESHOLD = 10 * MIB
DEFAULT_CONCURRENCY = 4


def _part_length(size: int, part_size: int, number: int) -> int:
    return min(part_size, size - (number - 1) * part_size)


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
        tracker = ProgressTracker(source, on_progress)
        if source.size > self.multipart_threshold or isinstance(resume, ResumeToken):
            return self._multipart(source, route, metadata, tracker, resume, cancel)
        return self._single(source, route, metadata, tracker, cancel)

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
        tracker: ProgressTracker,
        cancel: threading.Event | None,
    ) -> dict[str, Any]:
        def halted() -> bool:
            return cancel is not None and cancel.is_set()

        description = self._describe(source, route, metadata)
        checksum: str | None = None
        if self.checksums:
            try:
                checksum = sha256_of(source, halted)
            except Stopped:
                raise UploadCancelled(f"Upload of {source.name} was cancelled") from None
            description["checksum"] = {"algorithm": "sha256", "value": checksum}
        ticket = self.api.request("POST", "/upload/request", json=description)
        try:
            put_range(
                self.storage,
                ticket["uploadUrl"],
                source,
                offset=0,
                length=source.size,
                content_type=source.content_type,
                tracker=tracker,
                halted=halted,
                retry=self.retry,
                checksum=checksum,
                extra_headers=dict(ticket.get("uploadHeaders") or {}),
            )
        except Stopped:
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
        tracker: ProgressTracker,
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
        tracker: ProgressTracker,
        stop: threading.Event,
        cancel: threading.Event | None,
        digests: dict[int, str],
    ) -> BaseException | None:
        """Send the parts ``concurrency`` at a time (``parts.py``), filling ``etags`` and
        ``digests``; return the first failure. Every worker has ended when this returns."""
        lock = threading.Lock()

        def send(number: int, url: str) -> None:
            etag, sha256 = self._put_part(source, token, part_size, number, url, tracker, stop)
            with lock:
                etags[number] = etag
                if sha256 is not None:
                    digests[number] = sha256

        return send_parts(
            sorted(urls.items()), send, concurrency=self.concurrency, stop=stop, cancel=cancel
        )

    def _put_part(
        self,
        source: UploadSource,
        token: ResumeToken,
        part_size: int,
        number: int,
        url: str,
        tracker: ProgressTracker,
        stop: threading.Event,
    ) -> tuple[str, str | None]:
        """Send one part (its retries included); its ETag and, with checksums, its SHA-256."""
        sha256: list[str] = []

        def put(to: str) -> httpx.Response:
            return put_range(
                self.storage,
                to,
                source,
                offset=(number - 1) * part_size,
                length=_part_length(source.size, part_size, number),
                content_type=None,
                tracker=tracker,
                halted=stop.is_set,
                retry=self.retry,
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
        return etag, sha256[-1] if sha256 else None


def _part_entry(number: int, etag: str, sha256: str | None) -> dict[str, Any]:
    entry: dict[str, Any] = {"partNumber": number, "etag": etag}
    if sha256 is not None:
        entry["checksum"] = {"algorithm": "sha256", "value": sha256}
    return entry


class _Mismatch(UploadKitError):
    """A saved upload does not fit the file being uploaded now."""

    code = "RESUME_MISMATCH"
