"""The errors of the transform endpoints, with UploadKit's codes."""

from __future__ import annotations

from uploadkit_server.errors import UploadKitError


class TransformsRequirePaidPlan(UploadKitError):
    code, status = "IMAGE_TRANSFORMS_REQUIRE_PAID_PLAN", 403


class TransformsRequireLiveKey(UploadKitError):
    code, status = "IMAGE_TRANSFORMS_REQUIRE_LIVE_KEY", 403


class UnsupportedTransformType(UploadKitError):
    code, status = "UNSUPPORTED_TRANSFORM_TYPE", 415


class TransformLimitExceeded(UploadKitError):
    code, status = "IMAGE_TRANSFORM_LIMIT_EXCEEDED", 429


class TransformSourceTooLarge(UploadKitError):
    """The source's bytes or pixels are over the server's limits (decompression bombs)."""

    code, status = "IMAGE_TRANSFORM_SOURCE_TOO_LARGE", 413


class TransformTimeout(UploadKitError):
    code, status = "IMAGE_TRANSFORM_TIMEOUT", 504
