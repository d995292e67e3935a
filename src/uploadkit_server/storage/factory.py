"""Pick the storage backend from settings."""

from __future__ import annotations

from uploadkit_server.settings import Settings, StorageKind
from uploadkit_server.storage.base import StorageBackend


def create_storage(settings: Settings, *, secret_key: str) -> StorageBackend:
    if settings.storage is StorageKind.S3:
        from uploadkit_server.storage.s3 import S3Storage

        return S3Storage.from_settings(settings)
    from uploadkit_server.storage.local import LocalStorage

    return LocalStorage(
        root=settings.ensure_data_dir() / "storage",
        secret_key=secret_key,
        public_url=settings.public_url,
    )
