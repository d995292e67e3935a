"""S3's rules for completing a multipart upload, and its ETags, for backends that emulate it,
so that nothing above storage can tell the backends apart."""

from __future__ import annotations

from uploadkit_server.storage.base import InvalidParts, PartETag, StoredPart

MIN_PART_SIZE = 5 * 1024 * 1024
MAX_PART_NUMBER = 10_000


def quoted_md5(digest: bytes) -> str:
    return f'"{digest.hex()}"'


def content_etag(sha256: bytes) -> str:
    """The ETag of a single object or part the local backend received: 32 hex digits quoted,
    as S3 writes its MD5 ones, but the first 128 bits of the SHA-256 it computes anyway. ETags
    are opaque to clients; one hash per received byte instead of two is what makes ingest keep
    up with the network (MD5 costs ~2.5x SHA-256 on CPUs with SHA extensions)."""
    return quoted_md5(sha256[:16])


def normalize_etag(etag: str) -> str:
    """ETags compare without their quotes (clients send them either way)."""
    return etag.strip().removeprefix("W/").strip('"')


def check_parts(given: list[PartETag], stored: dict[int, StoredPart]) -> list[StoredPart]:
    """The stored parts named by ``given``, checked as S3 checks them."""
    if not given:
        raise InvalidParts("at least one part is required")
    numbers = [part.part_number for part in given]
    if numbers != sorted(set(numbers)):
        raise InvalidParts("parts must be listed once each, in ascending part number order")
    chosen: list[StoredPart] = []
    for index, part in enumerate(given):
        held = stored.get(part.part_number)
        if held is None:
            raise InvalidParts(f"part {part.part_number} was not uploaded")
        if normalize_etag(held.etag) != normalize_etag(part.etag):
            raise InvalidParts(f"part {part.part_number}: ETag does not match the stored part")
        if index < len(given) - 1 and held.size < MIN_PART_SIZE:
            raise InvalidParts(
                f"part {part.part_number} is {held.size} bytes; every part but the last "
                f"must be at least {MIN_PART_SIZE} bytes"
            )
        chosen.append(held)
    return chosen
