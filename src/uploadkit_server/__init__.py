"""UploadKit server: presigned uploads, verification, signed webhooks, quotas and rate limits."""

__version__ = "0.1.0"
