"""End-to-end checksums of uploads: what a client declares, what the store enforces, and the
server's own SHA-256 of every stored file.

A checksum declared on ``/upload/request`` is signed into the presigned PUT, so the store refuses
other bytes before keeping them (the local backend hashes the body as it arrives; S3 checks the
signed ``x-amz-checksum-*`` header). It is kept on the file row (``{algorithm}:{base64}``) and
checked again on complete against what the store reports, which is what protects stores that do
not enforce it (moto, some S3-compatible servers): where the store keeps no SHA-256, the object
is read back once and hashed. A mismatch found then deletes the object and leaves the upload
waiting, so a correct PUT to the same URL can follow.

A multipart upload's checksum (whole object, and optionally each part's) is verified when the
parts are assembled (``StorageBackend.complete_multipart``).
"""

from __future__ import annotations

import base64
import hashlib

from uploadkit_server.core.uploads.schemas import Checksum, ChecksumAlgorithm
from uploadkit_server.db.models import File
from uploadkit_server.errors import ChecksumMismatch, ValidationFailed
from uploadkit_server.storage.base import ContentChecksum, ObjectInfo, StorageBackend

#: Header a checksummed PUT carries (S3 requires it, as signed; the local backend's URL already
#: signs the checksum, so it ignores it): clients send it whatever the backend.
CHECKSUM_HEADERS = {"sha256": "x-amz-checksum-sha256", "crc32c": "x-amz-checksum-crc32c"}


def content_checksum(checksum: Checksum) -> ContentChecksum:
    return ContentChecksum(algorithm=checksum.algorithm.value, digest=checksum.digest)


def encode(checksum: ContentChecksum) -> str:
    return f"{checksum.algorithm}:{checksum.base64}"


def declared(file: File) -> ContentChecksum | None:
    """The checksum the client declared for ``file``'s bytes, if any."""
    if not file.checksum:
        return None
    algorithm, _, value = file.checksum.partition(":")
    return ContentChecksum(algorithm=algorithm, digest=base64.b64decode(value))


def check_supported(
    storage: StorageBackend, checksum: Checksum | None, *, multipart: bool = False
) -> ContentChecksum | None:
    """The declared checksum in the storage's terms; ``ValidationFailed`` if this storage (or a
    multipart upload) cannot enforce its algorithm."""
    if checksum is None:
        return None
    if multipart and checksum.algorithm is not ChecksumAlgorithm.SHA256:
        raise ValidationFailed(
            f"A multipart upload's checksum must be sha256, not {checksum.algorithm}",
            details={"checksum.algorithm": ["must be 'sha256' for multipart uploads"]},
            suggestion="Send the sha256 of the whole file",
        )
    if checksum.algorithm.value not in storage.checksum_algorithms:
        supported = ", ".join(sorted(storage.checksum_algorithms))
        raise ValidationFailed(
            f"This server's storage cannot enforce {checksum.algorithm} checksums "
            f"(supported: {supported})",
            details={"checksum.algorithm": [f"must be one of: {supported}"]},
            suggestion="Send a sha256 checksum instead",
        )
    return content_checksum(checksum)


async def hash_object(storage: StorageBackend, key: str) -> bytes:
    digest = hashlib.sha256()
    async for chunk in storage.read(key):
        digest.update(chunk)
    return digest.digest()


async def verify_stored(
    storage: StorageBackend, file: File, stored: ObjectInfo, *, sha256: bytes | None = None
) -> None:
    """Check the stored object against the declared checksum and record its SHA-256.

    ``sha256`` is one already computed (assembling parts); otherwise the store's own is used,
    and the object is read back only when a declared SHA-256 has nothing to be compared with.
    On a mismatch the object is deleted and ``ChecksumMismatch`` raised; the upload stays open.
    """
    expected = declared(file)
    known = sha256 if sha256 is not None else stored.checksums.get("sha256")
    if expected is not None:
        actual = known if expected.algorithm == "sha256" else stored.checksums.get("crc32c")
        if actual is None and expected.algorithm == "sha256":
            known = actual = await hash_object(storage, file.key)
        # A CRC32C the store does not report cannot be recomputed here; the store refused a
        # mismatching PUT against the signed header already (S3 does).
        if actual is not None and actual != expected.digest:
            await storage.delete(file.key)
            raise ChecksumMismatch(
                f"Upload {file.id}: the stored bytes do not match the declared "
                f"{expected.algorithm} checksum {expected.base64}; they were deleted",
                suggestion="PUT the file again to the same URL, or request a new upload",
            )
    if known is not None:
        file.sha256 = known.hex()
