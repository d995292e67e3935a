"""Objects in an S3-compatible bucket (AWS S3, Cloudflare R2, MinIO, Ceph) through aiobotocore.

Needs: a bucket that exists, credentials found the usual AWS ways (environment, shared config and
credentials files, container or instance roles), and the permissions listed in ``docs/s3.md``.
Layout: one object per file, at exactly the key the upload service chose; multipart uploads are
the store's own, so the upload id handed out is S3's. Nothing else is written to the bucket.

Clients PUT straight to the store with SigV4 presigned URLs. ``Content-Type`` and
``Content-Length`` are among the signed headers, so a store that checks signatures refuses a PUT
of another type or size; the upload service verifies both again on complete with ``head``,
which is what protects stores that do not.

Every botocore error is translated here: a missing object or upload is ``ObjectNotFound`` (or
``None`` from ``head``), parts that do not fit are ``InvalidParts``, anything else is
``StorageError``. Nothing above this module sees botocore.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import AsyncExitStack, contextmanager
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

from aiobotocore.session import AioSession, get_session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from uploadkit_server.settings import Settings
from uploadkit_server.storage.base import (
    ByteRange,
    ChecksumMismatch,
    ContentChecksum,
    InvalidParts,
    ObjectInfo,
    ObjectNotFound,
    PartETag,
    PendingMultipart,
    StorageCapabilities,
    StorageError,
    StoredPart,
)

#: Error codes S3 (and the compatible stores) use for "no such thing".
_MISSING_CODES = frozenset({"404", "NoSuchKey", "NotFound", "NoSuchUpload"})
#: DeleteObjects takes at most this many keys a call.
DELETE_OBJECTS_BATCH = 1000
#: Error codes that mean the parts named on complete do not fit what the store holds.
_BAD_PARTS_CODES = frozenset({"InvalidPart", "InvalidPartOrder", "EntityTooSmall", "MalformedXML"})

_READ_CHUNK = 64 * 1024
_DEFAULT_CONTENT_TYPE = "application/octet-stream"
#: ``ContentChecksum`` algorithms and the ``put_object`` parameter / response field of each.
_CHECKSUM_FIELDS = {"sha256": "ChecksumSHA256", "crc32c": "ChecksumCRC32C"}


def _stored_checksums(response: dict[str, Any]) -> dict[str, bytes]:
    """The full-object checksums a HeadObject answer carries (a composite ``…-N`` of a
    multipart object is a checksum of checksums, not of the bytes: left out)."""
    found: dict[str, bytes] = {}
    for algorithm, name in _CHECKSUM_FIELDS.items():
        value = response.get(name)
        if not isinstance(value, str) or "-" in value:
            continue
        try:
            found[algorithm] = base64.b64decode(value, validate=True)
        except binascii.Error:
            continue
    return found


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


@contextmanager
def _translated(action: str) -> Iterator[None]:
    """Turn botocore's errors into ``StorageError`` (callers catch the specific codes first)."""
    try:
        yield
    except ClientError as error:
        raise StorageError(f"S3 {action} failed: {_error_code(error)}: {error}") from error
    except BotoCoreError as error:
        raise StorageError(f"S3 {action} failed: {error}") from error


class S3Storage:
    """``StorageBackend`` over one bucket. The client is created on first use and closed by
    ``close()``; presigning needs no network, every other call is one or a few S3 requests.

    Example::

        storage = S3Storage(bucket="uploads", endpoint_url="http://127.0.0.1:9000",
                            region="us-east-1", force_path_style=True)
        url = await storage.presign_put("proj_x/a.png", content_type="image/png",
                                        content_length=1024, expires_in=900)
    """

    #: S3 checks both when the PUT carries them as signed headers (``BadDigest`` otherwise).
    checksum_algorithms = frozenset(_CHECKSUM_FIELDS)

    def __init__(
        self,
        *,
        bucket: str,
        endpoint_url: str | None = None,
        region: str | None = None,
        force_path_style: bool = False,
        session: AioSession | None = None,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        max_attempts: int = 3,
        list_page_size: int = 1000,
    ) -> None:
        self.bucket = bucket
        self.capabilities = StorageCapabilities(object_listing=self, multipart_listing=self)
        #: Entries per ListParts / ListMultipartUploads request; S3 serves at most 1,000.
        self._list_page_size = list_page_size
        self._endpoint_url = endpoint_url
        self._region = region
        self._session = session or get_session()
        self._config = Config(
            signature_version="s3v4",
            # "path" for MinIO-style servers without wildcard DNS. Otherwise always virtual-hosted:
            # botocore's "auto" would presign AWS URLs on the global s3.amazonaws.com host, which
            # redirects for buckets outside us-east-1 (and a browser's CORS preflight does not
            # follow redirects), and would fall back to path style on any custom endpoint.
            s3={"addressing_style": "path" if force_path_style else "virtual"},
            connect_timeout=connect_timeout,
            # Every complete, CDN hit and delete is a request; botocore's default pool is 10.
            max_pool_connections=50,
            read_timeout=read_timeout,
            retries={"max_attempts": max_attempts, "mode": "standard"},
            # botocore >= 1.36 adds CRC checksums to every upload by default; R2, MinIO and Ceph
            # releases in the field reject or mishandle some of them. Only send what S3 requires.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        self._stack: AsyncExitStack | None = None
        self._client: Any = None
        self._client_lock = asyncio.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> S3Storage:
        if not settings.s3_bucket:
            raise ValueError("UPLOADKIT_S3_BUCKET is required when UPLOADKIT_STORAGE=s3")
        return cls(
            bucket=settings.s3_bucket,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            force_path_style=settings.s3_force_path_style,
        )

    async def _s3(self) -> Any:
        if self._client is not None:
            return self._client
        async with self._client_lock:
            if self._client is None:
                stack = AsyncExitStack()
                self._client = await stack.enter_async_context(
                    self._session.create_client(
                        "s3",
                        endpoint_url=self._endpoint_url,
                        region_name=self._region,
                        config=self._config,
                    )
                )
                self._stack = stack
        return self._client

    async def close(self) -> None:
        stack, self._stack, self._client = self._stack, None, None
        if stack is not None:
            await stack.aclose()

    # -- presigned URLs ----------------------------------------------------------------------

    async def _presign(self, operation: str, params: dict[str, Any], expires_in: int) -> str:
        client = await self._s3()
        with _translated(f"presign {operation}"):
            url: str = await client.generate_presigned_url(
                operation,
                Params={"Bucket": self.bucket, **params},
                ExpiresIn=expires_in,
                HttpMethod="GET" if operation == "get_object" else "PUT",
            )
        return url

    async def presign_put(
        self,
        key: str,
        *,
        content_type: str,
        content_length: int,
        expires_in: int,
        checksum: ContentChecksum | None = None,
        create_only: bool = False,
    ) -> str:
        # Headers named in Params are serialised onto the request before signing, so they land in
        # X-Amz-SignedHeaders: S3 then refuses a PUT whose Content-Type or Content-Length differs,
        # and, with a checksum, one without the x-amz-checksum-* header or whose bytes differ.
        params: dict[str, Any] = {
            "Key": key,
            "ContentType": content_type,
            "ContentLength": content_length,
        }
        if checksum is not None:
            if checksum.algorithm not in _CHECKSUM_FIELDS:
                raise ValueError(f"checksum algorithm {checksum.algorithm!r} is not supported")
            params[_CHECKSUM_FIELDS[checksum.algorithm]] = checksum.base64
        if create_only:
            # A conditional write (S3, R2, MinIO): "412 Precondition Failed" if the object
            # exists, so the URL cannot replace bytes complete already verified. Signed, so a
            # client cannot drop it; it must send the header (``put_headers``).
            params["IfNoneMatch"] = "*"
        return await self._presign("put_object", params, expires_in)

    def put_headers(
        self, *, create_only: bool, checksum: ContentChecksum | None = None
    ) -> dict[str, str]:
        headers = {"If-None-Match": "*"} if create_only else {}
        if checksum is not None:
            headers[f"x-amz-checksum-{checksum.algorithm}"] = checksum.base64
        return headers

    async def presign_part(
        self, key: str, *, upload_id: str, part_number: int, content_length: int, expires_in: int
    ) -> str:
        return await self._presign(
            "upload_part",
            {
                "Key": key,
                "UploadId": upload_id,
                "PartNumber": part_number,
                "ContentLength": content_length,
            },
            expires_in,
        )

    async def presign_get(
        self, key: str, *, expires_in: int, attachment: bool = False
    ) -> str | None:
        params: dict[str, Any] = {"Key": key}
        if attachment:
            # response-content-disposition: S3 sends this header with the bytes it serves.
            params["ResponseContentDisposition"] = "attachment"
        return await self._presign("get_object", params, expires_in)

    # -- multipart ---------------------------------------------------------------------------

    async def create_multipart(self, key: str, *, content_type: str) -> str:
        client = await self._s3()
        with _translated("CreateMultipartUpload"):
            response = await client.create_multipart_upload(
                Bucket=self.bucket, Key=key, ContentType=content_type
            )
        return str(response["UploadId"])

    async def list_parts(self, key: str, *, upload_id: str) -> list[StoredPart]:
        client = await self._s3()
        parts: list[StoredPart] = []
        with _translated("ListParts"):
            try:
                # ListParts answers at most 1,000 parts a page; an upload may have 10,000.
                pages = client.get_paginator("list_parts").paginate(
                    Bucket=self.bucket,
                    Key=key,
                    UploadId=upload_id,
                    PaginationConfig={"PageSize": self._list_page_size},
                )
                async for page in pages:
                    parts.extend(
                        StoredPart(
                            part_number=int(part["PartNumber"]),
                            etag=str(part["ETag"]),
                            size=int(part["Size"]),
                        )
                        for part in page.get("Parts", [])
                    )
            except ClientError as error:
                if _error_code(error) in _MISSING_CODES:
                    raise ObjectNotFound(f"no multipart upload {upload_id!r} at {key!r}") from error
                raise
        return sorted(parts, key=lambda part: part.part_number)

    async def complete_multipart(
        self,
        key: str,
        *,
        upload_id: str,
        parts: list[PartETag],
        sha256: bytes | None = None,
    ) -> bytes | None:
        if not parts:
            raise InvalidParts("a multipart upload needs at least one part to complete")
        numbers = [part.part_number for part in parts]
        if any(later <= earlier for earlier, later in pairwise(numbers)):
            # S3 answers InvalidPartOrder; checked here so every compatible store agrees.
            raise InvalidParts("parts must be listed in ascending part number order, once each")
        verify = sha256 is not None or any(part.sha256 is not None for part in parts)
        # Part sizes are only known before completing; they are needed to check each part.
        sizes = {p.part_number: p.size for p in await self.list_parts(key, upload_id=upload_id)}
        sizes = sizes if verify else {}
        client = await self._s3()
        with _translated("CompleteMultipartUpload"):
            try:
                await client.complete_multipart_upload(
                    Bucket=self.bucket,
                    Key=key,
                    UploadId=upload_id,
                    MultipartUpload={
                        "Parts": [
                            {"PartNumber": part.part_number, "ETag": part.etag} for part in parts
                        ]
                    },
                )
            except ClientError as error:
                code = _error_code(error)
                if code == "NoSuchUpload":
                    raise ObjectNotFound(f"no multipart upload {upload_id!r} at {key!r}") from error
                if code in _BAD_PARTS_CODES:
                    raise InvalidParts(f"parts do not match the stored upload: {code}") from error
                raise
        if not verify:
            return None
        return await self._verify_assembled(key, parts, sizes, sha256)

    async def _verify_assembled(
        self, key: str, parts: list[PartETag], sizes: dict[int, int], sha256: bytes | None
    ) -> bytes:
        """Read the assembled object back once, hashing the whole and each part: S3 keeps no
        full-object SHA-256 of a multipart object, and presigned part URLs cannot sign a checksum
        the client only knows once it has read the part. A mismatch deletes the object."""
        whole = hashlib.sha256()
        problem: str | None = None
        pending = list(parts)
        remaining = sizes.get(pending[0].part_number, 0)
        digest = hashlib.sha256()

        def close_part() -> None:
            nonlocal problem, remaining, digest
            part = pending.pop(0)
            if problem is None and part.sha256 is not None and digest.digest() != part.sha256:
                problem = f"Part {part.part_number} does not match its sha256 checksum"
            remaining = sizes.get(pending[0].part_number, 0) if pending else 0
            digest = hashlib.sha256()

        async for chunk in self.read(key):
            whole.update(chunk)
            view = memoryview(chunk)
            while view:
                if not pending:
                    raise StorageError("the assembled object is longer than its parts")
                piece = view[:remaining]
                digest.update(piece)
                remaining -= len(piece)
                view = view[len(piece) :]
                if remaining == 0:
                    close_part()
        while pending and remaining == 0:  # parts of no bytes at the end
            close_part()
        if pending:
            raise StorageError("the assembled object is shorter than its parts")
        if problem is None and sha256 is not None and whole.digest() != sha256:
            problem = "The assembled object does not match the upload's sha256 checksum"
        if problem is not None:
            await self.delete(key)
            raise ChecksumMismatch(f"{problem}; the object was deleted", upload_kept=False)
        return whole.digest()

    async def abort_multipart(self, key: str, *, upload_id: str) -> None:
        client = await self._s3()
        with _translated("AbortMultipartUpload"):
            try:
                await client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            except ClientError as error:
                if _error_code(error) not in _MISSING_CODES:
                    raise

    async def multipart_uploads(
        self, *, prefix: str = "", started_before: datetime | None = None
    ) -> list[PendingMultipart]:
        """Multipart uploads in progress under ``prefix`` (all pages), optionally only those
        started before ``started_before``. For sweeping uploads nothing tracks any more."""
        client = await self._s3()
        found: list[PendingMultipart] = []
        with _translated("ListMultipartUploads"):
            pages = client.get_paginator("list_multipart_uploads").paginate(
                Bucket=self.bucket,
                Prefix=prefix,
                PaginationConfig={"PageSize": self._list_page_size},
            )
            async for page in pages:
                found.extend(
                    PendingMultipart(
                        key=str(upload["Key"]),
                        upload_id=str(upload["UploadId"]),
                        initiated=upload["Initiated"],
                    )
                    for upload in page.get("Uploads", [])
                    if started_before is None or upload["Initiated"] < started_before
                )
        return found

    async def abort_stale_multipart(self, *, older_than: datetime, prefix: str = "") -> int:
        """Abort every multipart upload under ``prefix`` started before ``older_than``; returns
        how many. Only give an empty prefix when the bucket is UploadKit's alone, and prefer
        ``multipart_uploads`` plus a check of what is still tracked when uploads may be resumed
        for longer than the cutoff."""
        stale = await self.multipart_uploads(prefix=prefix, started_before=older_than)
        for upload in stale:
            await self.abort_multipart(upload.key, upload_id=upload.upload_id)
        return len(stale)

    # -- objects -----------------------------------------------------------------------------

    async def stored_keys(
        self, *, prefix: str, modified_before: datetime
    ) -> AsyncIterator[list[str]]:
        """Keys of the objects under ``prefix`` last written before ``modified_before``, one
        listing page at a time (for the orphan sweep)."""
        client = await self._s3()
        with _translated("ListObjectsV2"):
            pages = client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket,
                Prefix=prefix,
                PaginationConfig={"PageSize": self._list_page_size},
            )
            async for page in pages:
                keys = [
                    str(item["Key"])
                    for item in page.get("Contents", [])
                    if item["LastModified"] < modified_before
                ]
                if keys:
                    yield keys

    async def head(self, key: str) -> ObjectInfo | None:
        client = await self._s3()
        with _translated("HeadObject"):
            try:
                # The checksums S3 keeps come back only when asked for.
                response = await client.head_object(
                    Bucket=self.bucket, Key=key, ChecksumMode="ENABLED"
                )
            except ClientError as error:
                if _error_code(error) in _MISSING_CODES:
                    return None
                raise
        return ObjectInfo(
            size=int(response["ContentLength"]),
            content_type=str(response.get("ContentType") or _DEFAULT_CONTENT_TYPE),
            etag=str(response["ETag"]),
            last_modified=response["LastModified"],
            checksums=_stored_checksums(response),
        )

    async def read(self, key: str, *, byte_range: ByteRange | None = None) -> AsyncIterator[bytes]:
        client = await self._s3()
        request: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if byte_range is not None:
            request["Range"] = f"bytes={byte_range.start}-{byte_range.end}"
        with _translated("GetObject"):
            try:
                response = await client.get_object(**request)
            except ClientError as error:
                if _error_code(error) in _MISSING_CODES:
                    raise ObjectNotFound(f"no object at {key!r}") from error
                raise
            body = response["Body"]
            try:
                async for chunk in body.iter_chunks(_READ_CHUNK):
                    yield chunk
            finally:
                # Also when the consumer stops early: hand the connection back to the pool.
                body.close()

    async def delete(self, key: str) -> None:
        client = await self._s3()
        with _translated("DeleteObject"):
            try:
                await client.delete_object(Bucket=self.bucket, Key=key)
            except ClientError as error:
                if _error_code(error) not in _MISSING_CODES:
                    raise

    async def delete_many(self, keys: Sequence[str]) -> None:
        client = await self._s3()
        for start in range(0, len(keys), DELETE_OBJECTS_BATCH):
            batch = keys[start : start + DELETE_OBJECTS_BATCH]
            with _translated("DeleteObjects"):
                response = await client.delete_objects(
                    Bucket=self.bucket,
                    Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True},
                )
            failed = [
                error
                for error in response.get("Errors", [])
                if error.get("Code") not in _MISSING_CODES
            ]
            if failed:
                first = failed[0]
                raise StorageError(
                    f"DeleteObjects failed for {len(failed)} keys, e.g. {first.get('Key')!r}: "
                    f"{first.get('Code')} {first.get('Message', '')}".rstrip()
                )

    # -- written by the server itself (image transform variants) -----------------------------

    async def put_object(self, key: str, data: bytes, *, content_type: str) -> ObjectInfo:
        client = await self._s3()
        with _translated("PutObject"):
            response = await client.put_object(
                Bucket=self.bucket, Key=key, Body=data, ContentType=content_type
            )
        return ObjectInfo(
            size=len(data),
            content_type=content_type,
            etag=str(response["ETag"]),
            last_modified=datetime.now(UTC),
        )
