"""Pick the tus store that finishes uploads into the configured storage backend."""

from __future__ import annotations

from uploadkit_server.core.tus.store import TusStore
from uploadkit_server.settings import Settings, StorageKind
from uploadkit_server.storage.base import StorageBackend


def create_tus_store(settings: Settings, storage: StorageBackend) -> TusStore | None:
    """S3 multipart uploads on the S3 backend; on the local backend, files beside the objects
    (so that finishing is a rename). ``None`` if the backend offers neither."""
    if settings.storage is StorageKind.S3:
        from uploadkit_server.core.tus.s3_store import S3TusStore

        return S3TusStore(storage)
    from uploadkit_server.core.tus.local_store import LocalTusStore

    # The local backend's optional capability: adopt a complete file from its own filesystem.
    adoption = storage.capabilities.file_adoption
    if adoption is None:
        return None
    root = settings.ensure_data_dir() / "storage" / "tus"
    return LocalTusStore(root, adopt_file=adoption.adopt_file)
