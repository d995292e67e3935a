"""What is particular to ``S3Storage``, through the real aiobotocore client over HTTP against
moto's S3 server. The behaviour every backend shares is in ``test_contract.py``, which runs
against S3 too.

Bytes go to the presigned URLs with httpx, as a browser or SDK would send them. What moto does
not check (presigned signatures) is checked with ``tests/support/sigv4.py``; what moto answers
differently from S3 is checked against a server that gives S3's answers.
"""

from __future__ import annotations

import os
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.support.s3server import SECRET_KEY, S3Bucket, signed_headers
from tests.support.sigv4 import presigned_request_is_valid
from uploadkit_server.settings import Settings
from uploadkit_server.storage.base import (
    ByteRange,
    ObjectNotFound,
    PartETag,
    StorageError,
)
from uploadkit_server.storage.factory import create_storage
from uploadkit_server.storage.s3 import S3Storage

pytestmark = pytest.mark.s3

MIB = 1024 * 1024


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


async def read_all(storage: S3Storage, key: str, byte_range: ByteRange | None = None) -> bytes:
    return b"".join([chunk async for chunk in storage.read(key, byte_range=byte_range)])


async def put_object(
    storage: S3Storage, http: httpx.AsyncClient, key: str, body: bytes, content_type: str
) -> None:
    url = await storage.presign_put(
        key, content_type=content_type, content_length=len(body), expires_in=60
    )
    response = await http.put(url, content=body, headers={"content-type": content_type})
    assert response.status_code == 200, response.text


# -- presigned PUT -----------------------------------------------------------------------------


async def test_presigned_put_signs_type_length_and_host(s3_storage: S3Storage) -> None:
    url = await s3_storage.presign_put(
        "proj_x/a.txt", content_type="text/plain", content_length=5, expires_in=900
    )

    assert {"content-type", "content-length", "host"} <= signed_headers(url)
    query = parse_qs(urlsplit(url).query)
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-Expires"] == ["900"]
    assert "/us-east-1/s3/aws4_request" in query["X-Amz-Credential"][0]


@pytest.mark.parametrize(
    ("change", "body", "content_type"),
    [
        ("other type", b"hello", "image/png"),
        ("more bytes", b"hello!", "text/plain"),
        ("fewer bytes", b"hell", "text/plain"),
        ("no type", b"hello", None),
    ],
)
async def test_store_checking_signatures_refuses_a_put_unlike_the_declaration(
    strict_s3_storage: S3Storage,
    http: httpx.AsyncClient,
    change: str,
    body: bytes,
    content_type: str | None,
) -> None:
    storage = strict_s3_storage
    url = await storage.presign_put(
        "proj_x/a.txt", content_type="text/plain", content_length=5, expires_in=60
    )
    headers = {"content-type": content_type} if content_type else {}

    refused = await http.put(url, content=body, headers=headers)

    assert refused.status_code == 403, change
    assert "SignatureDoesNotMatch" in refused.text
    assert await storage.head("proj_x/a.txt") is None
    accepted = await http.put(url, content=b"hello", headers={"content-type": "text/plain"})
    assert accepted.status_code == 200
    assert await read_all(storage, "proj_x/a.txt") == b"hello"


async def test_store_checking_signatures_refuses_other_keys_methods_and_tampering(
    strict_s3_storage: S3Storage, http: httpx.AsyncClient
) -> None:
    storage = strict_s3_storage
    url = await storage.presign_put(
        "proj_x/a.txt", content_type="text/plain", content_length=5, expires_in=60
    )
    headers = {"content-type": "text/plain"}
    signature = parse_qs(urlsplit(url).query)["X-Amz-Signature"][0]
    tampered = url.replace(signature, signature[:-1] + ("0" if signature[-1] != "0" else "1"))

    for attempt in (
        http.put(url.replace("/a.txt?", "/b.txt?"), content=b"hello", headers=headers),
        http.put(tampered, content=b"hello", headers=headers),
        http.post(url, content=b"hello", headers=headers),
    ):
        assert (await attempt).status_code == 403
    assert await storage.head("proj_x/a.txt") is None
    assert await storage.head("proj_x/b.txt") is None


async def test_store_checking_signatures_accepts_parts_and_downloads(
    strict_s3_storage: S3Storage, http: httpx.AsyncClient
) -> None:
    storage = strict_s3_storage
    key = "proj_x/v/clip.mp4"
    upload_id = await storage.create_multipart(key, content_type="video/mp4")
    first, last = os.urandom(5 * MIB), os.urandom(1000)
    url = await storage.presign_part(
        key, upload_id=upload_id, part_number=1, content_length=len(first), expires_in=60
    )
    assert (await http.put(url, content=first + b"x")).status_code == 403
    etag1 = (await http.put(url, content=first)).headers["etag"]
    etag2 = await put_part(storage, http, key, upload_id, 2, last)
    await storage.complete_multipart(
        key, upload_id=upload_id, parts=[PartETag(1, etag1), PartETag(2, etag2)]
    )

    download = await storage.presign_get(key, expires_in=60)
    assert download is not None
    got = await http.get(download)
    assert (got.status_code, got.content) == (200, first + last)
    assert (await http.head(download)).status_code == 403  # signed for GET only


async def test_presigned_url_expires_and_needs_the_right_secret(s3_storage: S3Storage) -> None:
    """Checked offline: the expiry cannot be shown over HTTP without waiting for it."""
    url = await s3_storage.presign_put(
        "proj_x/a.txt", content_type="text/plain", content_length=5, expires_in=60
    )
    declared = {"content-type": "text/plain", "content-length": "5"}
    signed_at = datetime.strptime(
        parse_qs(urlsplit(url).query)["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ"
    ).replace(tzinfo=UTC)

    def valid(*, after: int, secret: str = SECRET_KEY) -> bool:
        return presigned_request_is_valid(
            url,
            method="PUT",
            headers=declared,
            secret_key=secret,
            now=signed_at + timedelta(seconds=after),
        )

    assert valid(after=60)
    assert not valid(after=61)
    assert not valid(after=0, secret=SECRET_KEY + "x")


# -- multipart ---------------------------------------------------------------------------------


async def put_part(
    storage: S3Storage,
    http: httpx.AsyncClient,
    key: str,
    upload_id: str,
    part_number: int,
    body: bytes,
) -> str:
    url = await storage.presign_part(
        key, upload_id=upload_id, part_number=part_number, content_length=len(body), expires_in=60
    )
    response = await http.put(url, content=body)
    assert response.status_code == 200, response.text
    return response.headers["etag"]


async def test_presigned_part_url_signs_content_length(s3_storage: S3Storage) -> None:
    upload_id = await s3_storage.create_multipart("proj_x/big.bin", content_type="x/y")
    url = await s3_storage.presign_part(
        "proj_x/big.bin", upload_id=upload_id, part_number=7, content_length=5 * MIB, expires_in=60
    )

    assert {"content-length", "host"} <= signed_headers(url)
    query = parse_qs(urlsplit(url).query)
    assert (query["partNumber"], query["uploadId"]) == (["7"], [upload_id])
    headers = {"content-length": str(5 * MIB)}
    assert presigned_request_is_valid(url, method="PUT", headers=headers, secret_key=SECRET_KEY)
    headers = {"content-length": str(5 * MIB + 1)}
    assert not presigned_request_is_valid(url, method="PUT", headers=headers, secret_key=SECRET_KEY)
    await s3_storage.abort_multipart("proj_x/big.bin", upload_id=upload_id)


async def test_list_parts_reads_every_page(s3_bucket: S3Bucket, http: httpx.AsyncClient) -> None:
    storage = s3_bucket.storage(list_page_size=2)
    try:
        upload_id = await storage.create_multipart("k/resume.bin", content_type="x/y")
        for number in (5, 1, 3, 2, 4):
            await put_part(storage, http, "k/resume.bin", upload_id, number, b"part%d" % number)

        parts = await storage.list_parts("k/resume.bin", upload_id=upload_id)

        assert [(p.part_number, p.size) for p in parts] == [(n, 5) for n in range(1, 6)]
        await storage.abort_multipart("k/resume.bin", upload_id=upload_id)
    finally:
        await storage.close()


async def test_list_multipart_uploads_under_prefix_and_age(
    s3_storage: S3Storage, s3_bucket: S3Bucket
) -> None:
    ours = [await s3_storage.create_multipart(f"proj_a/f{n}", content_type="x/y") for n in range(3)]
    theirs = await s3_storage.create_multipart("other/f", content_type="x/y")

    # moto reports every upload as initiated at 2010-11-10T20:48:33Z, so the cutoffs sit on
    # either side of that moment.
    kept = await s3_storage.abort_stale_multipart(
        older_than=datetime(2010, 1, 1, tzinfo=UTC), prefix="proj_a/"
    )
    stale = await s3_storage.multipart_uploads(started_before=datetime.now(UTC), prefix="proj_a/")
    assert sorted((u.key, u.upload_id) for u in stale) == sorted(
        (f"proj_a/f{n}", upload_id) for n, upload_id in enumerate(ours)
    )
    aborted = await s3_storage.abort_stale_multipart(older_than=datetime.now(UTC), prefix="proj_a/")
    assert (kept, aborted) == (0, 3)
    uploads = await s3_bucket.client.list_multipart_uploads(Bucket=s3_bucket.name)
    assert [(u["Key"], u["UploadId"]) for u in uploads["Uploads"]] == [("other/f", theirs)]
    for number, upload_id in enumerate(ours):
        with pytest.raises(ObjectNotFound):
            await s3_storage.list_parts(f"proj_a/f{number}", upload_id=upload_id)


# -- objects -----------------------------------------------------------------------------------


async def test_read_can_stop_early_and_chunks_stream(
    s3_storage: S3Storage, http: httpx.AsyncClient
) -> None:
    body = os.urandom(1 * MIB)
    await put_object(s3_storage, http, "k/big.bin", body, "application/octet-stream")

    stream = s3_storage.read("k/big.bin")
    first = await anext(stream)
    await stream.aclose()  # type: ignore[attr-defined]

    assert 0 < len(first) < len(body)
    assert body.startswith(first)
    assert await read_all(s3_storage, "k/big.bin") == body  # the client still works


async def test_presign_get_downloads_the_object(
    s3_storage: S3Storage, http: httpx.AsyncClient
) -> None:
    body = os.urandom(50_000)
    await put_object(s3_storage, http, "k/photo.jpg", body, "image/jpeg")

    url = await s3_storage.presign_get("k/photo.jpg", expires_in=300)

    assert url is not None
    assert parse_qs(urlsplit(url).query)["X-Amz-Expires"] == ["300"]
    assert presigned_request_is_valid(url, method="GET", headers={}, secret_key=SECRET_KEY)
    response = await http.get(url)
    assert response.status_code == 200
    assert response.content == body
    assert response.headers["content-type"] == "image/jpeg"


# -- configuration and failures ----------------------------------------------------------------


def s3_settings(**values: object) -> Settings:
    return Settings(_env_file=None, storage="s3", s3_bucket="uk-bucket", **values)  # type: ignore[arg-type]


async def test_factory_builds_s3_storage_from_settings(s3_credentials: None) -> None:
    path_style = create_storage(
        s3_settings(
            s3_endpoint_url="http://minio.internal:9000",
            s3_region="eu-central-1",
            s3_force_path_style=True,
        ),
        secret_key="unused",
    )
    aws = create_storage(s3_settings(s3_region="eu-west-1"), secret_key="unused")
    r2 = create_storage(
        s3_settings(s3_endpoint_url="https://acct.r2.cloudflarestorage.com", s3_region="auto"),
        secret_key="unused",
    )
    try:
        assert isinstance(path_style, S3Storage)
        url = await path_style.presign_get("a/b.txt", expires_in=60)
        assert url is not None
        assert url.startswith("http://minio.internal:9000/uk-bucket/a/b.txt?")
        assert "%2Feu-central-1%2Fs3%2F" in url

        # No endpoint: AWS itself, virtual-hosted style in the configured region.
        url = await aws.presign_get("a/b.txt", expires_in=60)
        assert url is not None
        assert url.startswith("https://uk-bucket.s3.eu-west-1.amazonaws.com/a/b.txt?")
        assert "%2Feu-west-1%2Fs3%2F" in url

        url = await r2.presign_get("a/b.txt", expires_in=60)
        assert url is not None
        assert url.startswith("https://uk-bucket.acct.r2.cloudflarestorage.com/a/b.txt?")
        assert "%2Fauto%2Fs3%2F" in url
    finally:
        await path_style.close()
        await aws.close()
        await r2.close()


async def test_missing_bucket_is_a_storage_error(s3_bucket: S3Bucket) -> None:
    storage = S3Storage(
        bucket=s3_bucket.name + "-absent",
        endpoint_url=s3_bucket.endpoint_url,
        region=s3_bucket.region,
        force_path_style=True,
    )
    try:
        with pytest.raises(StorageError, match="NoSuchBucket") as caught:
            await storage.create_multipart("k", content_type="x/y")
        assert not isinstance(caught.value, ObjectNotFound)
    finally:
        await storage.close()


async def test_unreachable_endpoint_is_a_storage_error(s3_credentials: None) -> None:
    storage = S3Storage(
        bucket="uk-bucket",
        endpoint_url="http://127.0.0.1:9",
        region="us-east-1",
        force_path_style=True,
        connect_timeout=1,
        max_attempts=1,
    )
    try:
        with pytest.raises(StorageError):
            await storage.head("k")
    finally:
        await storage.close()


async def test_close_is_idempotent_and_storage_reopens(s3_storage: S3Storage) -> None:
    assert await s3_storage.head("k/x") is None
    await s3_storage.close()
    await s3_storage.close()
    assert await s3_storage.head("k/x") is None


# -- answers moto cannot give --------------------------------------------------------------------


class CannedS3Error(BaseHTTPRequestHandler):
    """Answers every request with one S3 error document, as S3 writes them."""

    status = 404
    code = "NoSuchUpload"

    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        self.rfile.read(length)
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{self.code}</Code>'
            f"<Message>canned</Message><RequestId>r1</RequestId></Error>"
        ).encode()
        self.send_response(self.status)
        self.send_header("content-type", "application/xml")
        self.send_header("content-length", "0" if self.command == "HEAD" else str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def canned_s3(s3_credentials: None) -> Iterator[Callable[[int, str], S3Storage]]:
    """An ``S3Storage`` on a server that answers every request with the given status and code."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), CannedS3Error)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def storage(status: int, code: str) -> S3Storage:
        CannedS3Error.status, CannedS3Error.code = status, code
        host, port = server.server_address[:2]
        return S3Storage(
            bucket="uk-bucket",
            endpoint_url=f"http://{host!s}:{port}",
            region="us-east-1",
            force_path_style=True,
            max_attempts=1,
        )

    try:
        yield storage
    finally:
        server.shutdown()
        server.server_close()


async def test_complete_of_unknown_upload_is_not_found(
    canned_s3: Callable[[int, str], S3Storage],
) -> None:
    # moto answers this with a 500; S3 answers 404 NoSuchUpload.
    storage = canned_s3(404, "NoSuchUpload")
    try:
        with pytest.raises(ObjectNotFound):
            await storage.complete_multipart("k", upload_id="u", parts=[PartETag(1, '"e"')])
        await storage.abort_multipart("k", upload_id="u")
    finally:
        await storage.close()


async def test_access_denied_is_an_error_not_a_missing_object(
    canned_s3: Callable[[int, str], S3Storage],
) -> None:
    storage = canned_s3(403, "AccessDenied")
    try:
        with pytest.raises(StorageError) as on_head:
            await storage.head("k")
        with pytest.raises(StorageError) as on_delete:
            await storage.delete("k")
        with pytest.raises(StorageError) as on_abort:
            await storage.abort_multipart("k", upload_id="u")
        for caught in (on_head, on_delete, on_abort):
            assert not isinstance(caught.value, ObjectNotFound)
    finally:
        await storage.close()
