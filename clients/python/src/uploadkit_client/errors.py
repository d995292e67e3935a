"""Typed errors: one ``UploadKitError`` carrying the server's ``code``, HTTP ``status``, ``message``
and ``suggestion``, with a subclass per common code so callers can ``except FileTooLarge``.

>>> try:
...     client.upload("big.mov", route="imageUploader")
... except FileTooLarge as error:
...     print(error.message, error.suggestion)
"""

from __future__ import annotations

import contextlib
from typing import Any

import httpx


class UploadKitError(Exception):
    """Any failure the SDK reports. ``status`` is ``None`` for errors raised before or without an
    HTTP response (configuration, network, cancellation)."""

    code: str = "UPLOADKIT_ERROR"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        suggestion: str | None = None,
        details: dict[str, list[str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.status = status
        self.suggestion = suggestion
        self.details = details

    def __str__(self) -> str:
        text = f"{self.code}: {self.message}"
        return f"{text} ({self.suggestion})" if self.suggestion else text


class Unauthorized(UploadKitError):
    code = "UNAUTHORIZED"


class HttpsRequired(UploadKitError):
    code = "HTTPS_REQUIRED"


class ValidationFailed(UploadKitError):
    code = "VALIDATION_ERROR"


class NotFound(UploadKitError):
    code = "NOT_FOUND"


class FileTooLarge(UploadKitError):
    code = "FILE_TOO_LARGE"


class FileTypeNotAllowed(UploadKitError):
    code = "FILE_TYPE_NOT_ALLOWED"


class UploadNotFound(NotFound):
    code = "UPLOAD_NOT_FOUND"


class UploadNotVerified(UploadKitError):
    code = "UPLOAD_NOT_VERIFIED"


class UploadIncomplete(UploadKitError):
    """Complete came before the stored object: finish the PUT, then complete again."""

    code = "UPLOAD_INCOMPLETE"


class DuplicateSlug(UploadKitError):
    code = "DUPLICATE_SLUG"


class TierLimitExceeded(UploadKitError):
    code = "TIER_LIMIT_EXCEEDED"


class RateLimited(UploadKitError):
    """Raised once the automatic retries after ``Retry-After`` are used up."""

    code = "RATE_LIMITED"

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ServerError(UploadKitError):
    code = "INTERNAL_SERVER_ERROR"


class ConfigurationError(UploadKitError):
    """No API key or no server URL: neither given as an argument nor in the environment."""

    code = "CONFIGURATION_ERROR"


class ConnectionFailed(UploadKitError):
    """The server could not be reached (DNS, refused connection, timeout)."""

    code = "CONNECTION_FAILED"


class StorageRejected(UploadKitError):
    """Storage refused a PUT to a presigned URL (expired, tampered, wrong length or type)."""

    code = "STORAGE_REJECTED"


class ChecksumMismatch(UploadKitError):
    """Bytes did not match their checksum: refused by the server or storage on upload, or a
    download whose SHA-256 differs from the file's (the partial download was removed)."""

    code = "CHECKSUM_MISMATCH"


class UploadInterrupted(UploadKitError):
    """A multipart upload stopped part-way (a part kept failing, or the process was interrupted).

    The parts already stored stay on the server: call ``upload`` again with the same path (the
    resume state file finds them) or with ``resume=error.resume_token``.
    """

    code = "UPLOAD_INTERRUPTED"

    def __init__(self, message: str, *, resume_token: Any, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.resume_token = resume_token


class UploadCancelled(UploadKitError):
    """The caller cancelled the upload; a multipart upload was aborted on the server."""

    code = "UPLOAD_CANCELLED"

    def __init__(
        self, message: str, *, file_id: str | None = None, upload_id: str | None = None
    ) -> None:
        super().__init__(message)
        self.file_id = file_id
        self.upload_id = upload_id


class WebhookVerificationError(UploadKitError):
    """A webhook's signature, timestamp or headers did not check out."""

    code = "WEBHOOK_VERIFICATION_FAILED"


_BY_CODE: dict[str, type[UploadKitError]] = {
    cls.code: cls
    for cls in (
        Unauthorized,
        HttpsRequired,
        ValidationFailed,
        NotFound,
        FileTooLarge,
        FileTypeNotAllowed,
        UploadNotFound,
        UploadNotVerified,
        ChecksumMismatch,
        UploadIncomplete,
        DuplicateSlug,
        TierLimitExceeded,
        RateLimited,
        ServerError,
    )
}


def retry_after_seconds(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds (delta form; the HTTP-date form is not used by UploadKit)."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def error_from_response(response: httpx.Response) -> UploadKitError:
    """The typed error for a non-2xx response: the SPEC envelope when there is one, else a
    generic error naming the status (a proxy's HTML page, an S3 XML error)."""
    body: Any = None
    with contextlib.suppress(ValueError):
        body = response.json()
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and isinstance(error.get("code"), str):
        code = error["code"]
        cls = _BY_CODE.get(code, ServerError if response.status_code >= 500 else UploadKitError)
        kwargs: dict[str, Any] = {
            "code": code,
            "status": response.status_code,
            "suggestion": error.get("suggestion"),
            "details": error.get("details"),
        }
        message = str(error.get("message") or code)
        if cls is RateLimited:
            return RateLimited(message, retry_after=retry_after_seconds(response), **kwargs)
        return cls(message, **kwargs)
    text = response.text[:200].strip()
    cls = ServerError if response.status_code >= 500 else UploadKitError
    return cls(
        f"HTTP {response.status_code} from {response.request.method} {response.request.url}"
        + (f": {text}" if text else ""),
        code=f"HTTP_{response.status_code}",
        status=response.status_code,
    )
