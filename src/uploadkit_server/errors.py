"""One error base with a stable machine code and an HTTP status, rendered in one place.

Services raise these; ``api/error_handlers.py`` turns every one of them, and every framework
error, into the SPEC's envelope ``{"error": {"code", "message", "suggestion"?, "details"?}}``.
"""

from __future__ import annotations

from typing import Any, ClassVar


class UploadKitError(Exception):
    code: ClassVar[str] = "INTERNAL_SERVER_ERROR"
    status: ClassVar[int] = 500
    #: The request's transaction is committed even though this error is raised: used when the
    #: failure itself is a state change the caller must see (a file marked FAILED).
    keeps_changes: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        suggestion: str | None = None,
        details: dict[str, list[str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.suggestion = suggestion
        self.details = details
        self.headers = headers or {}

    def to_body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.suggestion:
            error["suggestion"] = self.suggestion
        if self.details:
            error["details"] = self.details
        return {"error": error}


class Unauthorized(UploadKitError):
    code, status = "UNAUTHORIZED", 401


class HttpsRequired(UploadKitError):
    code, status = "HTTPS_REQUIRED", 403


class ValidationFailed(UploadKitError):
    code, status = "VALIDATION_ERROR", 400


class NotFound(UploadKitError):
    code, status = "NOT_FOUND", 404


class MethodNotAllowed(UploadKitError):
    code, status = "METHOD_NOT_ALLOWED", 405


class PayloadTooLarge(UploadKitError):
    code, status = "PAYLOAD_TOO_LARGE", 413


class RangeNotSatisfiable(UploadKitError):
    """A ``Range`` that starts past the end of the file (sent with ``Content-Range: bytes */N``)."""

    code, status = "RANGE_NOT_SATISFIABLE", 416


class FileTooLarge(UploadKitError):
    code, status = "FILE_TOO_LARGE", 413


class FileTypeNotAllowed(UploadKitError):
    code, status = "FILE_TYPE_NOT_ALLOWED", 415


class UploadNotFound(UploadKitError):
    code, status = "UPLOAD_NOT_FOUND", 404


class UploadNotVerified(UploadKitError):
    code, status = "UPLOAD_NOT_VERIFIED", 422
    keeps_changes = True


class UploadIncomplete(UploadKitError):
    """Complete came before the stored object did (the PUT is still running, or not sent yet):
    nothing changes, the upload keeps waiting while its URL is valid."""

    code, status = "UPLOAD_INCOMPLETE", 409


class FileTypeMismatch(UploadKitError):
    """The stored bytes are not what the declared type claims (content sniffing)."""

    code, status = "FILE_TYPE_MISMATCH", 422
    keeps_changes = True


class DuplicateSlug(UploadKitError):
    code, status = "DUPLICATE_SLUG", 409


class TierLimitExceeded(UploadKitError):
    code, status = "TIER_LIMIT_EXCEEDED", 403


class RateLimited(UploadKitError):
    code, status = "RATE_LIMITED", 429


class Forbidden(UploadKitError):
    """A signed storage URL that does not match the request (tampered, expired, other key)."""

    code, status = "FORBIDDEN", 403


class InternalError(UploadKitError):
    code, status = "INTERNAL_SERVER_ERROR", 500
