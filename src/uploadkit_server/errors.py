"""One error base with a stable machine code and an HTTP status, rendered in one place.

Services raise these; ``api/error_handlers.py`` turns every one of them, and every framework
error, into the SPEC's envelope ``{"error": {"code", "message", "suggestion", "details"?}}``.
Every class carries a default ``suggestion`` (what the caller can do next), so no error leaves
without one; a raise site with a better, situation-specific hint passes its own.
"""

from __future__ import annotations

from typing import Any, ClassVar


def upgrade_hint(billing_url: str | None) -> str | None:
    """The suggestion of a refusal that a bigger plan lifts: where to upgrade, or ``None`` (the
    error's default suggestion) when no billing page is known (``uploadkit admin``)."""
    return f"Upgrade your plan at {billing_url}" if billing_url else None


class UploadKitError(Exception):
    code: ClassVar[str] = "INTERNAL_SERVER_ERROR"
    status: ClassVar[int] = 500
    #: The request's transaction is committed even though this error is raised: used when the
    #: failure itself is a state change the caller must see (a file marked FAILED).
    keeps_changes: ClassVar[bool] = False
    #: Said when the raise site gives no suggestion of its own: never empty.
    default_suggestion: ClassVar[str] = (
        "Retry the request; if it keeps failing, report it to the server's operator"
    )

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
        self.suggestion: str = suggestion or self.default_suggestion
        self.details = details
        self.headers = headers or {}

    def to_body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        error["suggestion"] = self.suggestion
        if self.details:
            error["details"] = self.details
        return {"error": error}


class Unauthorized(UploadKitError):
    code, status = "UNAUTHORIZED", 401
    default_suggestion = "Send a valid, unrevoked API key in the x-api-key header"


class HttpsRequired(UploadKitError):
    code, status = "HTTPS_REQUIRED", 403
    default_suggestion = "Use the https:// URL of this server"


class ValidationFailed(UploadKitError):
    code, status = "VALIDATION_ERROR", 400
    default_suggestion = "Fix the request as the message and details describe, then send it again"


class NotFound(UploadKitError):
    code, status = "NOT_FOUND", 404
    default_suggestion = "Check the path and the id or key; it may be of another project or deleted"


class MethodNotAllowed(UploadKitError):
    code, status = "METHOD_NOT_ALLOWED", 405
    default_suggestion = "Use one of the methods this endpoint allows (see the API reference)"


class PayloadTooLarge(UploadKitError):
    code, status = "PAYLOAD_TOO_LARGE", 413
    default_suggestion = "Send a smaller body; file bytes go to the presigned upload URL"


class HeadersTooLarge(UploadKitError):
    """Request headers over the server's cap on total size or count."""

    code, status = "REQUEST_HEADERS_TOO_LARGE", 431
    default_suggestion = "Send fewer or smaller headers (cookies are the usual culprit)"


class RangeNotSatisfiable(UploadKitError):
    """A ``Range`` that starts past the end of the file (sent with ``Content-Range: bytes */N``)."""

    code, status = "RANGE_NOT_SATISFIABLE", 416
    default_suggestion = "Request a range that starts before the end of the file"


class FileTooLarge(UploadKitError):
    code, status = "FILE_TOO_LARGE", 413
    default_suggestion = "Upload a smaller file, raise the route's maxFileSize or upgrade your plan"


class FileTypeNotAllowed(UploadKitError):
    code, status = "FILE_TYPE_NOT_ALLOWED", 415
    default_suggestion = "Upload a type the route's allowedTypes accepts, or add it to the route"


class UploadNotFound(UploadKitError):
    code, status = "UPLOAD_NOT_FOUND", 404
    default_suggestion = "Request a new upload with POST /upload/request"


class UploadNotVerified(UploadKitError):
    code, status = "UPLOAD_NOT_VERIFIED", 422
    default_suggestion = "Request a new URL and PUT exactly the declared bytes again"
    keeps_changes = True


class ChecksumMismatch(UploadKitError):
    """The bytes do not match the checksum declared for them; they were not stored."""

    code, status = "CHECKSUM_MISMATCH", 400
    keeps_changes = True


class UploadIncomplete(UploadKitError):
    """Complete came before the stored object did (the PUT is still running, or not sent yet):
    nothing changes, the upload keeps waiting while its URL is valid."""

    code, status = "UPLOAD_INCOMPLETE", 409


class FileTypeMismatch(UploadKitError):
    """The stored bytes are not what the declared type claims (content sniffing)."""

    code, status = "FILE_TYPE_MISMATCH", 422
    default_suggestion = "Declare the file's real type, or upload the file the type names"
    keeps_changes = True


class DuplicateSlug(UploadKitError):
    code, status = "DUPLICATE_SLUG", 409
    default_suggestion = "Choose another slug, or update the existing route"


class TierLimitExceeded(UploadKitError):
    code, status = "TIER_LIMIT_EXCEEDED", 403
    default_suggestion = "Upgrade your plan or free some usage"


class RateLimited(UploadKitError):
    code, status = "RATE_LIMITED", 429
    default_suggestion = "Wait for the Retry-After seconds, then retry"


class LiveKeyRequired(UploadKitError):
    """A test key attempting a change that live traffic depends on (``core/auth/sandbox.py``)."""

    code, status = "LIVE_KEY_REQUIRED", 403
    default_suggestion = "Use a uk_live_ key for this change; test keys work in the sandbox only"


class Forbidden(UploadKitError):
    """A signed storage URL that does not match the request (tampered, expired, other key)."""

    code, status = "FORBIDDEN", 403
    default_suggestion = "Request a new upload URL and use it exactly as it was signed"


class InternalError(UploadKitError):
    code, status = "INTERNAL_SERVER_ERROR", 500
