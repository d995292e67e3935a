"""UploadKit Python SDK: uploads and the management API, over httpx and the standard library only.

>>> from uploadkit_client import UploadKit
>>> client = UploadKit()  # UPLOADKIT_API_KEY, UPLOADKIT_URL
>>> client.upload("report.pdf", route="documents")["url"]
"""

__version__ = "0.1.0"

from uploadkit_client.client import UploadKit
from uploadkit_client.errors import (
    ChecksumMismatch,
    ConfigurationError,
    ConnectionFailed,
    DuplicateSlug,
    FileTooLarge,
    FileTypeNotAllowed,
    HttpsRequired,
    NotFound,
    RateLimited,
    ServerError,
    StorageRejected,
    TierLimitExceeded,
    Unauthorized,
    UploadCancelled,
    UploadIncomplete,
    UploadInterrupted,
    UploadKitError,
    UploadNotFound,
    UploadNotVerified,
    ValidationFailed,
    WebhookVerificationError,
)
from uploadkit_client.resume import ResumeToken
from uploadkit_client.signatures import verify_webhook
from uploadkit_client.transfer import Progress

__all__ = [
    "ChecksumMismatch",
    "ConfigurationError",
    "ConnectionFailed",
    "DuplicateSlug",
    "FileTooLarge",
    "FileTypeNotAllowed",
    "HttpsRequired",
    "NotFound",
    "Progress",
    "RateLimited",
    "ResumeToken",
    "ServerError",
    "StorageRejected",
    "TierLimitExceeded",
    "Unauthorized",
    "UploadCancelled",
    "UploadIncomplete",
    "UploadInterrupted",
    "UploadKit",
    "UploadKitError",
    "UploadNotFound",
    "UploadNotVerified",
    "ValidationFailed",
    "WebhookVerificationError",
    "verify_webhook",
]
