"""Every error the server sends arrives as its typed exception with code, status, message and
suggestion; 429s are retried after ``Retry-After``; configuration mistakes fail clearly."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.client.stub_server import Canned, envelope, stub_server
from tests.support.sdk import Live, admin_create_account
from uploadkit_client import (
    ConfigurationError,
    ConnectionFailed,
    DuplicateSlug,
    FileTooLarge,
    FileTypeNotAllowed,
    HttpsRequired,
    NotFound,
    RateLimited,
    ServerError,
    StorageRejected,
    TierLimitExceeded,
    Unauthorized,
    UploadIncomplete,
    UploadKit,
    UploadKitError,
    UploadNotFound,
    UploadNotVerified,
    ValidationFailed,
)


def test_missing_key_or_url_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("UPLOADKIT_API_KEY", raising=False)
    monkeypatch.delenv("UPLOADKIT_URL", raising=False)
    with pytest.raises(ConfigurationError, match="UPLOADKIT_API_KEY"):
        UploadKit(base_url="http://127.0.0.1:1")
    with pytest.raises(ConfigurationError, match="UPLOADKIT_URL") as error:
        UploadKit(api_key="uk_live_x")
    assert error.value.suggestion
    with pytest.raises(ConfigurationError, match="http"):
        UploadKit(api_key="uk_live_x", base_url="uploads.example.com")


@pytest.mark.parametrize("suffix", ["", "/", "/api/v1", "/api/v1/"])
def test_url_and_key_from_the_environment_with_or_without_the_api_prefix(
    live: Live, monkeypatch: pytest.MonkeyPatch, suffix: str
) -> None:
    monkeypatch.setenv("UPLOADKIT_API_KEY", live.key)
    monkeypatch.setenv("UPLOADKIT_URL", live.url + suffix)
    with UploadKit() as client:
        assert {r["slug"] for r in client.routes.list(live.project_id)} >= {"files", "tiny"}


def test_unknown_key_is_unauthorized(live: Live) -> None:
    with UploadKit("uk_live_" + "x" * 43, live.url) as client, pytest.raises(Unauthorized) as error:
        client.routes.list(live.project_id)
    assert (error.value.code, error.value.status) == ("UNAUTHORIZED", 401)


def test_upload_errors_are_typed(sdk: UploadKit) -> None:
    with pytest.raises(ValidationFailed) as invalid:
        sdk.upload(b"x", route="not a slug!" * 20)
    assert invalid.value.status == 400
    with pytest.raises(NotFound) as missing:
        sdk.upload(b"x", route="nope")
    assert (missing.value.code, missing.value.status) == ("NOT_FOUND", 404)
    with pytest.raises(FileTypeNotAllowed) as wrong_type:
        sdk.upload(b"hello", route="images", file_name="notes.txt")
    assert wrong_type.value.status == 415
    with pytest.raises(FileTooLarge) as too_large:
        sdk.upload(b"x" * 2000, route="tiny")
    assert too_large.value.status == 413
    assert "1024" in too_large.value.message


def test_complete_errors_are_typed(sdk: UploadKit) -> None:
    with pytest.raises(UploadNotFound) as unknown:
        sdk.request("POST", "/upload/complete", json={"fileId": "file_doesnotexist"})
    assert unknown.value.status == 404
    assert isinstance(unknown.value, NotFound)  # one except clause catches both 404 codes
    ticket = sdk.request(
        "POST",
        "/upload/request",
        json={
            "fileName": "a.bin",
            "fileSize": 10,
            "contentType": "text/plain",
            "routeSlug": "files",
        },
    )
    # Nothing PUT yet while the URL is valid: the upload keeps waiting (issue 12 finding 11).
    with pytest.raises(UploadIncomplete) as incomplete:
        sdk.request("POST", "/upload/complete", json={"fileId": ticket["fileId"]})
    assert incomplete.value.status == 409


def test_duplicate_route_slug(sdk: UploadKit, live: Live) -> None:
    with pytest.raises(DuplicateSlug) as duplicate:
        sdk.routes.create(live.project_id, slug="files")
    assert duplicate.value.status == 409


def test_tier_limit(live: Live) -> None:
    free = admin_create_account(live.env, "free-limits@example.com", tier="free")
    with UploadKit(free["keys"]["live"], live.url) as client:
        client.projects.create("Second")  # free: two projects
        with pytest.raises(TierLimitExceeded) as limited:
            client.projects.create("Third")
    assert limited.value.status == 403
    assert limited.value.suggestion


def test_refused_storage_put_is_not_retried(live: Live, tmp_path: Path) -> None:
    class Tamper(httpx.HTTPTransport):
        puts = 0

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            if request.method == "PUT":
                Tamper.puts += 1
                request.url = request.url.copy_set_param("signature", "0" * 64)
            return super().handle_request(request)

    with (
        UploadKit(live.key, live.url, transport=Tamper(), state_dir=tmp_path) as client,
        pytest.raises(StorageRejected) as refused,
    ):
        client.upload(b"data", route="files")
    assert refused.value.status == 403
    assert Tamper.puts == 1


def test_unreachable_server_is_connection_failed() -> None:
    with UploadKit("uk_live_x", "http://127.0.0.1:9") as client, pytest.raises(ConnectionFailed):
        client.files.page()


def test_real_rate_limit_is_retried_then_raised(live: Live) -> None:
    limited = admin_create_account(live.env, "limited@example.com", tier="enterprise", rate_limit=2)
    waits: list[float] = []
    with UploadKit(
        limited["keys"]["live"], live.url, rate_limit_retries=2, sleep=waits.append
    ) as client:
        project = limited["project"]["id"]
        client.routes.list(project)
        client.routes.list(project)
        with pytest.raises(RateLimited) as error:
            client.routes.list(project)
    assert len(waits) == 2  # retried twice after the server's Retry-After, then gave up
    assert all(0 < wait <= 60 for wait in waits)
    assert error.value.status == 429
    assert error.value.retry_after is not None and error.value.retry_after > 0


def rate_limited(retry_after: str) -> Canned:
    return Canned(
        429,
        envelope("RATE_LIMITED", f"Rate limit exceeded. Retry after {retry_after} seconds"),
        {"retry-after": retry_after, "x-ratelimit-remaining": "0"},
    )


def test_429_is_retried_after_retry_after_until_it_succeeds() -> None:
    script = [rate_limited("7"), rate_limited("3"), Canned(200, {"items": [{"id": "proj_1"}]})]
    waits: list[float] = []
    with stub_server(script) as stub, UploadKit("uk_live_k", stub.url, sleep=waits.append) as sdk:
        assert sdk.projects.list() == [{"id": "proj_1"}]
    assert waits == [7.0, 3.0]
    assert [path for _, path, _ in stub.requests] == ["/api/v1/projects"] * 3
    assert all(headers["x-api-key"] == "uk_live_k" for _, _, headers in stub.requests)


def test_retry_after_is_capped() -> None:
    waits: list[float] = []
    with (
        stub_server([rate_limited("3600"), Canned(200, {"items": []})]) as stub,
        UploadKit("uk_live_k", stub.url, sleep=waits.append, max_retry_after=30) as sdk,
    ):
        sdk.projects.list()
    assert waits == [30]


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (401, "UNAUTHORIZED", Unauthorized),
        (403, "HTTPS_REQUIRED", HttpsRequired),
        (400, "VALIDATION_ERROR", ValidationFailed),
        (404, "NOT_FOUND", NotFound),
        (413, "FILE_TOO_LARGE", FileTooLarge),
        (415, "FILE_TYPE_NOT_ALLOWED", FileTypeNotAllowed),
        (404, "UPLOAD_NOT_FOUND", UploadNotFound),
        (422, "UPLOAD_NOT_VERIFIED", UploadNotVerified),
        (409, "UPLOAD_INCOMPLETE", UploadIncomplete),
        (409, "DUPLICATE_SLUG", DuplicateSlug),
        (403, "TIER_LIMIT_EXCEEDED", TierLimitExceeded),
        (429, "RATE_LIMITED", RateLimited),
        (500, "INTERNAL_SERVER_ERROR", ServerError),
        (418, "SOMETHING_NEW", UploadKitError),
    ],
)
def test_each_code_maps_to_its_exception(
    status: int, code: str, expected: type[UploadKitError]
) -> None:
    canned = Canned(status, envelope(code, "what happened", "what to do"), {"retry-after": "1"})
    with (
        stub_server([canned]) as stub,
        UploadKit("uk_live_k", stub.url, rate_limit_retries=0) as sdk,
        pytest.raises(UploadKitError) as error,
    ):
        sdk.projects.list()
    assert type(error.value) is expected
    assert (error.value.code, error.value.status) == (code, status)
    assert (error.value.message, error.value.suggestion) == ("what happened", "what to do")
    assert str(error.value) == f"{code}: what happened (what to do)"


def test_a_response_without_the_envelope_still_raises_a_typed_error() -> None:
    page = Canned(502, raw=b"<html>Bad Gateway</html>", headers={"content-type": "text/html"})
    with (
        stub_server([page]) as stub,
        UploadKit("uk_live_k", stub.url) as sdk,
        pytest.raises(ServerError) as error,
    ):
        sdk.usage.get()
    assert (error.value.code, error.value.status) == ("HTTP_502", 502)
    assert "Bad Gateway" in error.value.message


@pytest.mark.parametrize("key", ["uk_live_abc\n", "uk_live_a b", "uk_live_\x00x", "uk_live_é"])
def test_a_malformed_key_is_a_configuration_error_before_any_request(key: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        UploadKit(key, "http://127.0.0.1:9")
    assert "Malformed API key" in str(raised.value)
    assert raised.value.code == "CONFIGURATION_ERROR"


def test_a_retried_post_sends_the_same_idempotency_key() -> None:
    waits: list[float] = []
    script = [rate_limited("1"), Canned(200, {"items": []})]
    with stub_server(script) as stub, UploadKit("uk_live_k", stub.url, sleep=waits.append) as sdk:
        sdk.projects.create("Retried")
        sdk.projects.create("Another")
    keys = [headers.get("Idempotency-Key") for method, _, headers in stub.requests]
    assert [method for method, _, _ in stub.requests] == ["POST", "POST", "POST"]
    assert keys[0] and keys[0] == keys[1]  # the retry reuses the first attempt's key
    assert keys[2] and keys[2] != keys[0]  # a new call gets a new key


def test_a_post_whose_connection_failed_is_retried_once_with_its_key(live: Live) -> None:
    """Against the real server: the retried POST is replayed, not run twice."""
    sent: list[httpx.Request] = []

    class DropFirstAnswer(httpx.HTTPTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            response = super().handle_request(request)
            sent.append(request)
            if len(sent) == 1:  # the server did the work, the answer is lost
                response.close()
                raise httpx.ReadError("connection reset", request=request)
            return response

    with UploadKit(live.key, live.url, transport=DropFirstAnswer(), sleep=lambda _: None) as sdk:
        project = sdk.projects.create("Made once")
        listed = [p for p in sdk.projects.list() if p["name"] == "Made once"]
    assert [r.headers["Idempotency-Key"] for r in sent[:2]] == [
        sent[0].headers["Idempotency-Key"]
    ] * 2
    assert [p["id"] for p in listed] == [project["id"]]
