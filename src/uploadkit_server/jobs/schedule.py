"""The periodic jobs a server (or a separate worker) runs."""

from __future__ import annotations

from collections.abc import Sequence

from uploadkit_server.jobs.expiry import expire_abandoned_uploads
from uploadkit_server.jobs.orphaned_multipart import OrphanedMultipartSweep
from uploadkit_server.jobs.runner import Job


def background_jobs() -> Sequence[Job]:
    return [expire_abandoned_uploads, OrphanedMultipartSweep()]
