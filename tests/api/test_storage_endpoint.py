"""The public storage endpoints through the ASGI app: signed PUTs of objects and parts, the
built-in CDN, CORS. Checks look at the data directory itself, not only at the responses.

URLs are presigned here with the backend itself; since storage takes bytes only for a file still
waiting for them and the CDN serves only uploaded files, ``KEY`` is recorded as an upload in
flight before each test (``waiting``), and the CDN tests mark it uploaded. What the refusals
look like through the upload API is in ``test_object_lifetimes.py``."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import AsyncIterator
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import httpx
import pytest

from tests.support.api import assert_error
from tests.support.file_records import record_file, set_status, set_upload_id
from tests.support.fixtures import with_db_kind, with_local_storage, with_waiting_file
from tests.support.local_files import files_in
from uploadkit_server.core.files.schemas import file_url
from uploadkit_server.db.models import FileStatus
from uploadkit_server.runtime import Runtime
from uploadkit_server.storage.local import LocalStorage
from uploadkit_server.storage.secure_path import UnsafeKey
from uploadkit_server.storage.signed_urls import PutGrant, PutKind

KEY = "proj_test/files/Q3kabc/photo.jpg"
DATA = os.urandom(200_000)


# The database is not what these tests are about: the endpoints only ask it whether the file at
# a key (or its multipart upload) still takes bytes, and whose usage served bytes count in. Those
# queries run on both kinds in ``test_object_lifetimes.py`` and ``test_served_bytes.py``.
db_kind = with_db_kind("sqlite")
storage = with_local_storage()
waiting = with_waiting_file(KEY)


def assert_nothing_stored(storage: LocalStorage) -> None:
    """No object, no sidecar, no temporary file: the refused upload left no trace."""
    assert files_in(storage.root / "objects") == []
    assert files_in(storage.root / "meta") == []
    assert files_in(storage.root / "tmp") == []


def with_query(url: str, **changes: str | None) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    for name, value in changes.items():
        if value is None:
            query.pop(name, None)
        else:
            query[name] = value
    return urlunsplit(parts._replace(query=urlencode(query)))


async def presign(storage: LocalStorage, key: str = KEY, data: bytes = DATA) -> str:
    return await storage.presign_put(
        key, content_type="image/jpeg", content_length=len(data), expires_in=900
    )


async def chunks(
    total: int, *, size: int = 64 * 1024, sent: list[int] | None = None
) -> AsyncIterator[bytes]:
    """A chunked body of ``total`` bytes (no Content-Length), counting what was pulled."""
    remaining = total
    while remaining > 0:
        piece = b"x" * min(size, remaining)
        remaining -= len(piece)
        if sent is not None:
            sent.append(len(piece))
        yield piece


# -- single PUT --------------------------------------------------------------------------------


async def test_put_stores_the_bytes_and_answers_with_etag(
    client: httpx.AsyncClient, storage: LocalStorage
) -> None:
    url = await presign(storage)
    assert url.startswith("http://testserver/storage/objects/proj_test/files/Q3kabc/photo.jpg?")
    response = await client.put(url, content=DATA, headers={"Content-Type": "image/jpeg"})
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == f'"{hashlib.sha256(DATA).hexdigest()[:32]}"'
    stored = storage.root / "objects" / KEY
    assert stored.read_bytes() == DATA
    assert files_in(storage.root / "tmp") == []


async def test_chunked_body_of_exact_length_is_accepted(
    client: httpx.AsyncClient, storage: LocalStorage
) -> None:
    size = 3 * 1024 * 1024 + 5
    url = await storage.presign_put(
        KEY, content_type="image/jpeg", content_length=size, expires_in=900
    )
    response = await client.put(url, content=chunks(size), headers={"Content-Type": "image/jpeg"})
    assert response.status_code == 200, response.text
    assert (storage.root / "objects" / KEY).stat().st_size == size


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        ("signature", "signature"),
        ("key", "signature"),
        ("type", "signature"),
        ("length", "signature"),
        ("expires", "signature"),
        ("no signature", "signature"),
        ("no length", "length"),
        ("header type", "Content-Type"),
        ("no header type", "Content-Type"),
        ("header length", "Content-Length"),
    ],
)
async def test_tampered_requests_are_forbidden(
    client: httpx.AsyncClient, storage: LocalStorage, tamper: str, message: str
) -> None:
    url = await presign(storage)
    signature = dict(parse_qsl(urlsplit(url).query))["signature"]
    headers = {"Content-Type": "image/jpeg"}
    content = DATA
    match tamper:
        case "signature":
            forged = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
            url = with_query(url, signature=forged)
        case "key":
            url = url.replace("photo.jpg", "other.jpg")
        case "type":
            url = with_query(url, type="text/html")
        case "length":
            url = with_query(url, length=str(len(DATA) + 1))
        case "expires":
            url = with_query(url, expires=str(int(time.time()) + 10**6))
        case "no signature":
            url = with_query(url, signature=None)
        case "no length":
            url = with_query(url, length=None)
        case "header type":
            headers["Content-Type"] = "image/png"
        case "no header type":
            headers = {}
        case "header length":
            content = DATA[:-1]  # httpx declares the real, shorter Content-Length
    response = await client.put(url, content=content, headers=headers)
    error = assert_error(response, 403, "FORBIDDEN")
    assert message in str(error["message"])
    assert_nothing_stored(storage)


async def test_expired_url_is_forbidden_and_says_so(
    client: httpx.AsyncClient, storage: LocalStorage, runtime: Runtime
) -> None:
    an_hour_ago = LocalStorage(
        storage.root,
        runtime.secret_key,
        runtime.settings.public_url,
        clock=lambda: time.time() - 3600,
    )
    url = await presign(an_hour_ago)
    response = await client.put(url, content=DATA, headers={"Content-Type": "image/jpeg"})
    error = assert_error(response, 403, "FORBIDDEN")
    assert "expired" in str(error["message"])
    assert_nothing_stored(storage)


async def test_url_signed_with_another_secret_is_forbidden(
    client: httpx.AsyncClient, storage: LocalStorage, runtime: Runtime
) -> None:
    impostor = LocalStorage(storage.root, "another-secret", runtime.settings.public_url)
    response = await client.put(
        await presign(impostor), content=DATA, headers={"Content-Type": "image/jpeg"}
    )
    assert_error(response, 403, "FORBIDDEN")
    assert_nothing_stored(storage)


async def test_streamed_overrun_is_cut_off_with_nothing_left(
    client: httpx.AsyncClient, storage: LocalStorage
) -> None:
    signed = 1024 * 1024
    url = await storage.presign_put(
        KEY, content_type="image/jpeg", content_length=signed, expires_in=900
    )
    sent: list[int] = []
    response = await client.put(
        url,
        content=chunks(100 * signed, sent=sent),  # chunked: no Content-Length to refuse upfront
        headers={"Content-Type": "image/jpeg"},
    )
    assert_error(response, 413, "PAYLOAD_TOO_LARGE")
    # Reading stopped at the first chunk past the signed length, not at the end of the body.
    assert sum(sent) <= signed + 64 * 1024
    assert_nothing_stored(storage)


async def test_body_longer_than_its_declared_length_is_cut_off(
    client: httpx.AsyncClient, storage: LocalStorage
) -> None:
    url = await presign(storage)
    response = await client.put(
        url,
        content=DATA + b"extra",
        headers={"Content-Type": "image/jpeg", "Content-Length": str(len(DATA))},
    )
    assert_error(response, 413, "PAYLOAD_TOO_LARGE")
    assert_nothing_stored(storage)


async def test_short_chunked_body_is_refused_with_nothing_left(
    client: httpx.AsyncClient, storage: LocalStorage
) -> None:
    url = await storage.presign_put(
        KEY, content_type="image/jpeg", content_length=2_000_000, expires_in=900
    )
    response = await client.put(
        url, content=chunks(1_999_999), headers={"Content-Type": "image/jpeg"}
    )
    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert "1999999" in str(error["message"])
    assert_nothing_stored(storage)


async def test_body_shorter_than_its_declared_length_is_refused(
    client: httpx.AsyncClient, storage: LocalStorage
) -> None:
    url = await presign(storage)
    response = await client.put(
        url,
        content=DATA[:1000],
        headers={"Content-Type": "image/jpeg", "Content-Length": str(len(DATA))},
    )
    assert_error(response, 400, "VALIDATION_ERROR")
    assert_nothing_stored(storage)


async def test_refused_replacement_keeps_the_existing_object(
    client: httpx.AsyncClient, storage: LocalStorage
) -> None:
    url = await presign(storage)
    await client.put(url, content=DATA, headers={"Content-Type": "image/jpeg"})
    short = await client.put(
        url, content=chunks(len(DATA) - 1), headers={"Content-Type": "image/jpeg"}
    )
    assert short.status_code == 400
    assert (storage.root / "objects" / KEY).read_bytes() == DATA


# -- hostile keys ------------------------------------------------------------------------------


async def test_presigning_an_unsafe_key_is_refused(storage: LocalStorage) -> None:
    for key in ("../escape.txt", "/etc/passwd", "a//b", "a\\b", "a\x00b"):
        with pytest.raises(UnsafeKey):
            await presign(storage, key)


def signed_anyway(storage: LocalStorage, raw_path: str, key: str) -> str:
    """A correctly signed URL for a key ``presign_put`` would refuse: the endpoint must still
    keep it inside the storage root."""
    expires = int(time.time()) + 900
    grant = PutGrant(PutKind.OBJECT, key, content_length=5, content_type="text/plain")
    query = urlencode(
        {
            "expires": expires,
            "length": 5,
            "type": "text/plain",
            "signature": storage.signer.signature(grant, expires),
        }
    )
    return f"http://testserver/storage/objects/{raw_path}?{query}"


@pytest.mark.parametrize(
    ("raw_path", "key"),
    [
        ("..%2F..%2Fescape.txt", "../../escape.txt"),
        ("..%2F..%2F..%2Fescape.txt", "../../../escape.txt"),
        ("%2Ftmp%2Fescape.txt", "/tmp/escape.txt"),
        ("a%5C..%5C..%5Cescape.txt", "a\\..\\..\\escape.txt"),
        ("a%00b.txt", "a\x00b.txt"),
        ("a%2F%2Fb.txt", "a//b.txt"),
    ],
)
async def test_signed_path_escape_is_refused(
    client: httpx.AsyncClient, storage: LocalStorage, runtime: Runtime, raw_path: str, key: str
) -> None:
    # Even a file recorded at such a key (the server never makes one) cannot leave the root.
    await record_file(runtime.sessionmaker, key)
    data_dir = storage.root.parent
    before = files_in(data_dir)
    response = await client.put(
        signed_anyway(storage, raw_path, key),
        content=b"owned",
        headers={"Content-Type": "text/plain"},
    )
    assert_error(response, 400, "VALIDATION_ERROR")
    assert files_in(data_dir) == before
    assert "escape.txt" not in {path.name for path in files_in(data_dir.parent)}


async def test_cdn_does_not_serve_files_outside_the_objects(
    client: httpx.AsyncClient, storage: LocalStorage
) -> None:
    (storage.root.parent / "private.txt").write_text("secret")
    url = await presign(storage)
    await client.put(url, content=DATA, headers={"Content-Type": "image/jpeg"})
    for path in (
        "..%2F..%2Fprivate.txt",
        "..%2Fmeta%2F" + quote(KEY, safe=""),  # the sidecar next door
        "%2Fetc%2Fpasswd",
        "proj_test%5C..%5C..%5Cprivate.txt",
    ):
        assert_error(await client.get(f"/cdn/{path}"), 404, "NOT_FOUND")


# -- parts -------------------------------------------------------------------------------------


async def test_part_put_answers_with_etag(
    client: httpx.AsyncClient, storage: LocalStorage, runtime: Runtime
) -> None:
    upload_id = await storage.create_multipart(KEY, content_type="image/jpeg")
    await set_upload_id(runtime.sessionmaker, KEY, upload_id)
    url = await storage.presign_part(
        KEY, upload_id=upload_id, part_number=3, content_length=len(DATA), expires_in=3600
    )
    assert f"/storage/parts/{upload_id}/3/" in url
    # Parts take any Content-Type (or none), as S3's UploadPart does.
    response = await client.put(url, content=DATA, headers={"Content-Type": "text/plain"})
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == f'"{hashlib.sha256(DATA).hexdigest()[:32]}"'
    assert [part.part_number for part in await storage.list_parts(KEY, upload_id=upload_id)] == [3]


@pytest.mark.parametrize("tamper", ["part number", "upload id", "length", "key"])
async def test_tampered_part_urls_are_forbidden(
    client: httpx.AsyncClient, storage: LocalStorage, runtime: Runtime, tamper: str
) -> None:
    upload_id = await storage.create_multipart(KEY, content_type="image/jpeg")
    await set_upload_id(runtime.sessionmaker, KEY, upload_id)
    other_id = await storage.create_multipart(KEY, content_type="image/jpeg")
    url = await storage.presign_part(
        KEY, upload_id=upload_id, part_number=1, content_length=len(DATA), expires_in=3600
    )
    url = {
        "part number": url.replace(f"/{upload_id}/1/", f"/{upload_id}/2/"),
        "upload id": url.replace(upload_id, other_id),
        "length": with_query(url, length="10"),
        "key": url.replace("photo.jpg", "x.jpg"),
    }[tamper]
    assert_error(await client.put(url, content=DATA), 403, "FORBIDDEN")
    assert await storage.list_parts(KEY, upload_id=upload_id) == []
    assert await storage.list_parts(KEY, upload_id=other_id) == []
    assert files_in(storage.root / "tmp") == []


async def test_part_for_an_aborted_upload_is_not_found(
    client: httpx.AsyncClient, storage: LocalStorage, runtime: Runtime
) -> None:
    """Storage no longer holds the upload while its file still waits (an abort whose row
    change did not commit): the part is refused by storage itself."""
    upload_id = await storage.create_multipart(KEY, content_type="image/jpeg")
    await set_upload_id(runtime.sessionmaker, KEY, upload_id)
    url = await storage.presign_part(
        KEY, upload_id=upload_id, part_number=1, content_length=len(DATA), expires_in=3600
    )
    await storage.abort_multipart(KEY, upload_id=upload_id)
    assert_error(await client.put(url, content=DATA), 404, "UPLOAD_NOT_FOUND")
    assert files_in(storage.root / "tmp") == []
    assert files_in(storage.root / "multipart") == []


async def test_part_overrun_is_cut_off(
    client: httpx.AsyncClient, storage: LocalStorage, runtime: Runtime
) -> None:
    upload_id = await storage.create_multipart(KEY, content_type="image/jpeg")
    await set_upload_id(runtime.sessionmaker, KEY, upload_id)
    url = await storage.presign_part(
        KEY, upload_id=upload_id, part_number=1, content_length=1000, expires_in=3600
    )
    assert_error(await client.put(url, content=chunks(5000, size=600)), 413, "PAYLOAD_TOO_LARGE")
    assert await storage.list_parts(KEY, upload_id=upload_id) == []
    assert files_in(storage.root / "tmp") == []


# -- CDN ---------------------------------------------------------------------------------------


@pytest.fixture
async def stored(client: httpx.AsyncClient, storage: LocalStorage, runtime: Runtime) -> str:
    url = await presign(storage)
    response = await client.put(url, content=DATA, headers={"Content-Type": "image/jpeg"})
    assert response.status_code == 200
    await set_status(runtime.sessionmaker, KEY, FileStatus.UPLOADED)  # as complete leaves it
    return str(response.headers["etag"])


async def test_cdn_serves_the_object_with_its_facts(client: httpx.AsyncClient, stored: str) -> None:
    response = await client.get(f"/cdn/{KEY}")
    assert response.status_code == 200
    assert response.content == DATA
    assert response.headers["content-type"] == "image/jpeg"
    assert response.headers["content-length"] == str(len(DATA))
    assert response.headers["etag"] == stored
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["cache-control"].startswith("public, max-age=")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["last-modified"].endswith(" GMT")


async def test_cdn_head_has_headers_and_no_body(client: httpx.AsyncClient, stored: str) -> None:
    response = await client.head(f"/cdn/{KEY}")
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == str(len(DATA))
    assert response.headers["etag"] == stored
    ranged = await client.head(f"/cdn/{KEY}", headers={"Range": "bytes=0-9"})
    assert ranged.status_code == 206
    assert ranged.headers["content-range"] == f"bytes 0-9/{len(DATA)}"


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=0-0", 0, 0),
        ("bytes=10-19", 10, 19),
        ("bytes=199990-", 199_990, 199_999),
        ("bytes=-5", 199_995, 199_999),
        ("bytes=199000-500000", 199_000, 199_999),
        ("bytes=-999999", 0, 199_999),
    ],
)
async def test_cdn_range_requests(
    client: httpx.AsyncClient, stored: str, header: str, start: int, end: int
) -> None:
    response = await client.get(f"/cdn/{KEY}", headers={"Range": header})
    assert response.status_code == 206
    assert response.content == DATA[start : end + 1]
    assert response.headers["content-range"] == f"bytes {start}-{end}/{len(DATA)}"
    assert response.headers["content-length"] == str(end - start + 1)
    assert response.headers["content-type"] == "image/jpeg"


@pytest.mark.parametrize("header", ["bytes=0-1,5-6", "items=0-5", "bytes=9-3", "bytes=abc"])
async def test_cdn_ignores_ranges_it_does_not_serve(
    client: httpx.AsyncClient, stored: str, header: str
) -> None:
    response = await client.get(f"/cdn/{KEY}", headers={"Range": header})
    assert response.status_code == 200
    assert response.content == DATA


@pytest.mark.parametrize("header", ["bytes=200000-", "bytes=500000-600000", "bytes=-0"])
async def test_cdn_unsatisfiable_range(client: httpx.AsyncClient, stored: str, header: str) -> None:
    response = await client.get(f"/cdn/{KEY}", headers={"Range": header})
    assert_error(response, 416, "RANGE_NOT_SATISFIABLE")
    assert response.headers["content-range"] == f"bytes */{len(DATA)}"


async def test_cdn_conditional_requests(client: httpx.AsyncClient, stored: str) -> None:
    first = await client.get(f"/cdn/{KEY}")
    last_modified = first.headers["last-modified"]
    for headers in (
        {"If-None-Match": stored},
        {"If-None-Match": f'"other", {stored}'},
        {"If-None-Match": f"W/{stored}"},
        {"If-None-Match": "*"},
        {"If-Modified-Since": last_modified},
        {"If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"},
    ):
        response = await client.get(f"/cdn/{KEY}", headers=headers)
        assert response.status_code == 304, headers
        assert response.content == b""
        assert response.headers["etag"] == stored
    for headers in (
        {"If-None-Match": '"something-else"'},
        {"If-Modified-Since": "Sat, 01 Jan 2000 00:00:00 GMT"},
        {"If-Modified-Since": "not a date"},
        # If-None-Match wins over If-Modified-Since.
        {"If-None-Match": '"something-else"', "If-Modified-Since": last_modified},
    ):
        response = await client.get(f"/cdn/{KEY}", headers=headers)
        assert response.status_code == 200, headers
        assert response.content == DATA


async def test_cdn_if_range(client: httpx.AsyncClient, stored: str) -> None:
    current = await client.get(f"/cdn/{KEY}", headers={"Range": "bytes=0-9", "If-Range": stored})
    assert current.status_code == 206
    changed = await client.get(f"/cdn/{KEY}", headers={"Range": "bytes=0-9", "If-Range": '"old"'})
    assert changed.status_code == 200
    assert changed.content == DATA


async def test_cdn_missing_and_deleted_objects(
    client: httpx.AsyncClient, storage: LocalStorage, stored: str
) -> None:
    assert_error(await client.get("/cdn/proj_test/files/none/nothing.jpg"), 404, "NOT_FOUND")
    assert (await client.head("/cdn/proj_test/files/none/nothing.jpg")).status_code == 404
    await storage.delete(KEY)
    assert_error(await client.get(f"/cdn/{KEY}"), 404, "NOT_FOUND")
    # Deleting prunes the now-empty folders too.
    assert list((storage.root / "objects").iterdir()) == []


async def test_cdn_does_not_list_folders(client: httpx.AsyncClient, stored: str) -> None:
    assert_error(await client.get("/cdn/proj_test/files"), 404, "NOT_FOUND")
    assert_error(await client.get("/cdn/"), 404, "NOT_FOUND")


async def test_encoded_slashes_and_unicode_keys(
    client: httpx.AsyncClient, storage: LocalStorage, runtime: Runtime
) -> None:
    key = "proj_test/files/abc/résumé 写真 #1?.svg"
    await record_file(runtime.sessionmaker, key)
    url = await storage.presign_put(
        key, content_type="image/svg+xml", content_length=5, expires_in=900
    )
    encoded = url.replace(quote(key, safe="/"), quote(key, safe=""))
    assert "%2F" in encoded
    response = await client.put(
        encoded, content=b"<svg>", headers={"Content-Type": "image/svg+xml"}
    )
    assert response.status_code == 200, response.text
    await set_status(runtime.sessionmaker, key, FileStatus.UPLOADED)

    for cdn_url in (
        file_url(runtime.settings.effective_cdn_url, key),  # the `url` a file object carries
        f"/cdn/{quote(key, safe='')}",
    ):
        got = await client.get(cdn_url)
        assert got.status_code == 200, cdn_url
        assert got.content == b"<svg>"
        assert got.headers["content-type"] == "image/svg+xml"


# -- CORS --------------------------------------------------------------------------------------


async def test_browser_preflight_for_a_put(
    client: httpx.AsyncClient, storage: LocalStorage
) -> None:
    url = await presign(storage)
    response = await client.options(
        url,
        headers={
            "Origin": "https://app.example.com",
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] in {"*", "https://app.example.com"}
    assert "PUT" in response.headers["access-control-allow-methods"]
    assert "content-type" in response.headers["access-control-allow-headers"].lower()


async def test_browser_can_read_the_etag(
    client: httpx.AsyncClient, storage: LocalStorage, runtime: Runtime
) -> None:
    url = await presign(storage)
    origin = {"Origin": "https://app.example.com"}
    response = await client.put(url, content=DATA, headers={"Content-Type": "image/jpeg", **origin})
    assert response.status_code == 200
    await set_status(runtime.sessionmaker, KEY, FileStatus.UPLOADED)
    assert response.headers["access-control-allow-origin"] == "*"
    assert "etag" in response.headers["access-control-expose-headers"].lower()
    download = await client.get(f"/cdn/{KEY}", headers={**origin, "Range": "bytes=0-1"})
    assert download.headers["access-control-allow-origin"] == "*"
    exposed = download.headers["access-control-expose-headers"].lower()
    assert "content-range" in exposed and "etag" in exposed
