"""The periodic jobs a server (or a separate worker) runs."""

from __future__ import annotations

from collections.abc import Sequence

from uploadkit_server.jobs.client_token_purge import purge_expired_client_tokens
from uploadkit_server.jobs.expiry import expire_abandoned_uploads
from uploadkit_server.jobs.idempotency_purge import purge_idempotency_keys
from uploadkit_server.jobs.key_usage import flush_key_usage
from uploadkit_server.jobs.orphaned_multipart import OrphanedMultipartSweep
from uploadkit_server.jobs.orphaned_objects import OrphanedObjectSweep
from uploadkit_server.jobs.runner import Job
from uploadkit_server.jobs.served_bytes import flush_served_bytes
from uploadkit_server.jobs.storage_cleanup import remove_stale_temp_files
from uploadkit_server.jobs.test_mode_purge import purge_test_mode
from uploadkit_server.jobs.tus_expiry import expire_tus_uploads
from uploadkit_server.jobs.webhook_purge import (
    purge_expired_deliveries,
    purge_test_mode_deliveries,
)


def background_jobs() -> Sequence[Job]:
    return [
        expire_tus_uploads,
        expire_abandoned_uploads,
        remove_stale_temp_files,
        purge_test_mode,
        purge_test_mode_deliveries,
        purge_expired_deliveries,
        OrphanedMultipartSweep(),
        purge_expired_client_tokens,
        OrphanedObjectSweep(),
        purge_idempotency_keys,
    ]


def process_local_jobs() -> Sequence[Job]:
    """Jobs that write what this very process recorded in memory (keys' ``lastUsedAt``, bytes
    the CDN served): every server process runs them, even when a separate worker runs the
    others (``RUN_BACKGROUND_JOBS=false``)."""
    return [flush_key_usage, flush_served_bytes]
