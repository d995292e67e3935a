"""Errors of the tus protocol, in the API's one error envelope with tus's status codes."""

from __future__ import annotations

from uploadkit_server.errors import UploadKitError

TUS_VERSION = "1.0.0"


class TusVersionUnsupported(UploadKitError):
    code, status = "TUS_VERSION_UNSUPPORTED", 412


class OffsetMismatch(UploadKitError):
    """``Upload-Offset`` is not the offset the server holds: the client must ``HEAD`` first."""

    code, status = "OFFSET_MISMATCH", 409


class UploadLocked(UploadKitError):
    """Another request (in any server process) is writing to this upload right now."""

    code, status = "UPLOAD_LOCKED", 423


class UploadExpired(UploadKitError):
    code, status = "UPLOAD_EXPIRED", 410


class ChecksumMismatch(UploadKitError):
    """tus's checksum extension: the PATCH body does not match ``Upload-Checksum``."""

    code, status = "CHECKSUM_MISMATCH", 460


class UnsupportedMediaType(UploadKitError):
    code, status = "UNSUPPORTED_MEDIA_TYPE", 415
