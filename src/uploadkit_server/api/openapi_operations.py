"""The table behind the OpenAPI document: for every operation (method and path), its id, the
statuses it can send, its parameters, examples and links. ``api/openapi.py`` lays it over what
FastAPI derives from the endpoints; an endpoint missing here fails the document's tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

API = "/api/v1"
#: Requests to these are answered before routing in the same envelope, on every path.
EVERY_REQUEST = (400, 403, 431)
#: The API's JSON bodies are capped (``ApiBodyLimitMiddleware``).
API_REQUEST = (*EVERY_REQUEST, 413)
#: An API key is checked and counted against its rate-limit window.
AUTHENTICATED = (*API_REQUEST, 401, 429)
SECURITY: list[dict[str, list[str]]] = [{"apiKeyHeader": []}, {"bearerAuth": []}]


@dataclass(frozen=True)
class Operation:
    operation_id: str
    errors: tuple[int, ...]
    summary: str | None = None
    #: Success statuses beyond the one FastAPI documents, with their description.
    success: dict[int, str] = field(default_factory=dict)
    #: Replaces the success response FastAPI derived (for endpoints returning raw bytes).
    raw_success: dict[str, Any] | None = None
    public: bool = False
    parameters: tuple[dict[str, Any], ...] = ()
    request_body: dict[str, Any] | None = None
    request_example: Any = None
    response_example: Any = None
    #: OpenAPI links from the success response: operation id -> {parameter: expression}.
    links: dict[str, dict[str, str]] = field(default_factory=dict)


def _header(
    name: str, description: str, *, required: bool = False, **schema: Any
) -> dict[str, Any]:
    return {
        "name": name,
        "in": "header",
        "required": required,
        "description": description,
        "schema": {"type": "string", **schema},
    }


def _query(name: str, description: str, **schema: Any) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": True,
        "description": description,
        "schema": {"type": "string", **schema},
    }


IDEMPOTENCY_HEADER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Makes retries safe: the same key and request within 24 h replays the first "
    "response (Idempotent-Replayed: true) instead of running again",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
}
BYTES_BODY = {
    "required": True,
    "description": "The file's bytes: exactly the signed length, with the signed Content-Type",
    "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
}
TUS_BODY = {
    "required": False,
    "description": "Upload bytes from Upload-Offset on",
    "content": {
        "application/offset+octet-stream": {"schema": {"type": "string", "format": "binary"}}
    },
}
ANY_BYTES = {"*/*": {"schema": {"type": "string", "format": "binary"}}}


def _raw(status: int, description: str, *, body: bool = False, **headers: str) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description}
    if body:
        response["content"] = ANY_BYTES
    if headers:
        response["headers"] = {
            name.replace("_", "-"): {"description": text, "schema": {"type": "string"}}
            for name, text in headers.items()
        }
    return {str(status): response}


OBJECT_READ = {
    **_raw(200, "The stored bytes, as their stored Content-Type", body=True),
    **_raw(206, "One range of the stored bytes (Content-Range)", body=True),
    **_raw(304, "Not modified since (If-None-Match / If-Modified-Since)"),
}
OBJECT_HEAD = {
    **_raw(200, "The headers a GET would send (ETag, Content-Length, Content-Type)"),
    **_raw(206, "The headers of a range GET"),
    **_raw(304, "Not modified since (If-None-Match / If-Modified-Since)"),
}
TUS_VERSION_HEADER = _header(
    "Tus-Resumable", "tus protocol version", required=True, type="string", enum=["1.0.0"]
)
TUS_DESCRIPTION = "tus 1.0 resumable upload (https://tus.io/protocols/resumable-upload)"
PUT_QUERY = (
    _query("expires", "Unix time after which the URL is refused", pattern="^[0-9]+$"),
    _query("length", "The exact body length the URL was signed for", pattern="^[0-9]+$"),
    _query("signature", "HMAC of the key, length, type and expiry"),
)
VARIANT_PARAMS = (
    {
        "name": "exp",
        "in": "query",
        "required": False,
        "description": "Expiry of a signed (/t/) variant URL, Unix time",
        "schema": {"type": "string"},
    },
)

UPLOAD_TICKET_EXAMPLE = {
    "fileId": "file_2x8Kq7vN3mP1",
    "uploadUrl": (
        "http://localhost:8000/storage/objects/uploads/4f1c2a9e8b7d4c3a/photo.jpg"
        "?expires=1775649600&length=204800&type=image%2Fjpeg&signature=3b1f…"
    ),
    "key": "uploads/4f1c2a9e8b7d4c3a/photo.jpg",
    "cdnUrl": "http://localhost:8000/cdn/uploads/4f1c2a9e8b7d4c3a/photo.jpg",
}
FILE_EXAMPLE = {
    "id": "file_2x8Kq7vN3mP1",
    "key": "uploads/4f1c2a9e8b7d4c3a/photo.jpg",
    "url": "http://localhost:8000/cdn/uploads/4f1c2a9e8b7d4c3a/photo.jpg",
    "fileName": "photo.jpg",
    "fileSize": 204800,
    "contentType": "image/jpeg",
    "status": "UPLOADED",
    "routeSlug": "imageUploader",
    "metadata": {},
    "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "detectedType": "image/jpeg",
    "createdAt": "2026-04-08T12:00:00.000Z",
    "updatedAt": "2026-04-08T12:00:05.000Z",
}

PROJECT_ID = {"project_id": "$response.body#/id"}
ROUTE_ID = {"route_id": "$response.body#/id"}
PROJECT_LINKS = {
    name: PROJECT_ID
    for name in (
        "getProject",
        "renameProject",
        "listFileRoutes",
        "createFileRoute",
        "listApiKeys",
        "createApiKey",
        "deleteProject",
    )
}

OPERATIONS: dict[tuple[str, str], Operation] = {
    # -- uploads ---------------------------------------------------------------------------
    ("POST", f"{API}/upload/request"): Operation(
        "requestUpload",
        (*AUTHENTICATED, 404, 409, 415),
        summary="Request a presigned URL for one file, or one each for a batch (`files`)",
        request_example={
            "fileName": "photo.jpg",
            "fileSize": 204800,
            "contentType": "image/jpeg",
            "routeSlug": "imageUploader",
        },
        response_example=UPLOAD_TICKET_EXAMPLE,
    ),
    ("POST", f"{API}/client-tokens"): Operation(
        "createClientToken",
        (*AUTHENTICATED, 404),
        summary="Mint a short-lived browser token for one route's uploads",
        request_example={"routeSlug": "imageUploader", "maxFileCount": 1},
    ),
    ("POST", f"{API}/upload/complete"): Operation(
        "completeUpload",
        (*AUTHENTICATED, 404, 409, 422),
        summary="Verify the stored bytes and mark the file uploaded",
        request_example={"fileId": "file_2x8Kq7vN3mP1"},
        response_example=FILE_EXAMPLE,
    ),
    ("POST", f"{API}/upload/multipart/init"): Operation(
        "initMultipartUpload",
        (*AUTHENTICATED, 404, 409, 415),
        summary="Start a multipart upload: presigned URLs for its parts",
    ),
    ("POST", f"{API}/upload/multipart/complete"): Operation(
        "completeMultipartUpload",
        (*AUTHENTICATED, 404, 409, 422),
        summary="Assemble the parts and verify the file",
    ),
    ("POST", f"{API}/upload/multipart/abort"): Operation(
        "abortMultipartUpload", (*AUTHENTICATED, 404), summary="Abort a multipart upload"
    ),
    ("GET", f"{API}/upload/multipart/parts"): Operation(
        "listUploadedParts", (*AUTHENTICATED, 404), summary="The parts stored so far"
    ),
    ("POST", f"{API}/upload/multipart/sign-parts"): Operation(
        "signUploadParts", (*AUTHENTICATED, 404), summary="Fresh presigned URLs for some parts"
    ),
    # -- file routes -----------------------------------------------------------------------
    ("GET", f"{API}/projects/{{project_id}}/routers"): Operation(
        "listFileRoutes", (*AUTHENTICATED, 404)
    ),
    ("POST", f"{API}/projects/{{project_id}}/routers"): Operation(
        "createFileRoute",
        (*AUTHENTICATED, 404, 409),
        links={name: ROUTE_ID for name in ("getFileRoute", "updateFileRoute", "deleteFileRoute")},
        request_example={
            "slug": "imageUploader",
            "allowedTypes": ["image/png", "image/jpeg"],
            "maxFileSize": "4MB",
        },
    ),
    ("GET", f"{API}/routers/{{route_id}}"): Operation("getFileRoute", (*AUTHENTICATED, 404)),
    ("PATCH", f"{API}/routers/{{route_id}}"): Operation(
        "updateFileRoute", (*AUTHENTICATED, 404, 409)
    ),
    ("DELETE", f"{API}/routers/{{route_id}}"): Operation("deleteFileRoute", (*AUTHENTICATED, 404)),
    # -- projects and keys -----------------------------------------------------------------
    ("GET", f"{API}/projects"): Operation("listProjects", AUTHENTICATED),
    ("POST", f"{API}/projects"): Operation(
        "createProject", AUTHENTICATED, request_example={"name": "My app"}, links=PROJECT_LINKS
    ),
    ("GET", f"{API}/projects/{{project_id}}"): Operation("getProject", (*AUTHENTICATED, 404)),
    ("PATCH", f"{API}/projects/{{project_id}}"): Operation("renameProject", (*AUTHENTICATED, 404)),
    ("DELETE", f"{API}/projects/{{project_id}}"): Operation("deleteProject", (*AUTHENTICATED, 404)),
    ("GET", f"{API}/projects/{{project_id}}/keys"): Operation("listApiKeys", (*AUTHENTICATED, 404)),
    ("POST", f"{API}/projects/{{project_id}}/keys"): Operation(
        "createApiKey",
        (*AUTHENTICATED, 404),
        request_example={"name": "ci", "isTest": True},
        links={"revokeApiKey": {"key_id": "$response.body#/apiKey/id"}},
    ),
    ("DELETE", f"{API}/keys/{{key_id}}"): Operation("revokeApiKey", (*AUTHENTICATED, 404)),
    # -- files -----------------------------------------------------------------------------
    ("GET", f"{API}/files"): Operation(
        "listFiles",
        AUTHENTICATED,
        response_example={"items": [FILE_EXAMPLE], "nextCursor": None, "hasMore": False},
    ),
    ("DELETE", f"{API}/files"): Operation(
        "deleteFiles",
        AUTHENTICATED,
        success={207: "Some keys were not deleted: see each result's error"},
        request_example={"keys": ["uploads/4f1c2a9e8b7d4c3a/photo.jpg"]},
    ),
    ("GET", f"{API}/files/{{key}}"): Operation("getFile", (*AUTHENTICATED, 404)),
    ("PATCH", f"{API}/files/{{key}}"): Operation("updateFile", (*AUTHENTICATED, 404)),
    ("DELETE", f"{API}/files/{{key}}"): Operation("deleteFile", (*AUTHENTICATED, 404)),
    # -- usage and logs --------------------------------------------------------------------
    ("GET", f"{API}/usage"): Operation("getUsage", AUTHENTICATED),
    ("GET", f"{API}/usage/history"): Operation("getUsageHistory", AUTHENTICATED),
    ("GET", f"{API}/logs"): Operation("pollLogs", AUTHENTICATED),
    # -- webhooks --------------------------------------------------------------------------
    ("GET", f"{API}/webhooks/signing-keys"): Operation("getSigningKeys", AUTHENTICATED),
    ("POST", f"{API}/webhooks/signing-keys/rotate"): Operation("rotateSigningKeys", AUTHENTICATED),
    ("POST", f"{API}/webhooks/signing-keys/rotate-secret"): Operation(
        "rotateWebhookSecret", AUTHENTICATED
    ),
    ("GET", f"{API}/webhooks/deliveries"): Operation("listWebhookDeliveries", AUTHENTICATED),
    ("GET", f"{API}/webhooks/deliveries/{{delivery_id}}"): Operation(
        "getWebhookDelivery", (*AUTHENTICATED, 404)
    ),
    ("POST", f"{API}/webhooks/deliveries/{{delivery_id}}/redeliver"): Operation(
        "redeliverWebhook", (*AUTHENTICATED, 404, 409)
    ),
    ("DELETE", f"{API}/webhooks/deliveries/{{delivery_id}}"): Operation(
        "deleteWebhookDelivery", (*AUTHENTICATED, 404)
    ),
    # -- image transformations -------------------------------------------------------------
    ("POST", f"{API}/transforms/image"): Operation(
        "createImageTransform",
        (*AUTHENTICATED, 404, 415),
        request_example={"key": "uploads/4f1c2a9e8b7d4c3a/photo.jpg", "width": 320},
    ),
    ("GET", "/t/{sig}/{recipe}/{key}"): Operation(
        "getSignedVariant",
        (*EVERY_REQUEST, 404, 413, 415, 416, 429, 504),
        public=True,
        parameters=VARIANT_PARAMS,
        raw_success=OBJECT_READ,
    ),
    ("HEAD", "/t/{sig}/{recipe}/{key}"): Operation(
        "headSignedVariant",
        (*EVERY_REQUEST, 404, 413, 415, 416, 429, 504),
        public=True,
        parameters=VARIANT_PARAMS,
        raw_success=OBJECT_HEAD,
    ),
    ("GET", "/p/{sig}/{recipe}/{key}"): Operation(
        "getPublicVariant",
        (*EVERY_REQUEST, 404, 413, 415, 416, 429, 504),
        public=True,
        raw_success=OBJECT_READ,
    ),
    ("HEAD", "/p/{sig}/{recipe}/{key}"): Operation(
        "headPublicVariant",
        (*EVERY_REQUEST, 404, 413, 415, 416, 429, 504),
        public=True,
        raw_success=OBJECT_HEAD,
    ),
    # -- tus -------------------------------------------------------------------------------
    ("OPTIONS", f"{API}/tus/"): Operation(
        "tusDiscover",
        EVERY_REQUEST,
        summary="tus capabilities (no key needed)",
        public=True,
        raw_success=_raw(204, "Capabilities", Tus_Version="1.0.0", Tus_Extension="Extensions"),
    ),
    ("OPTIONS", f"{API}/tus/{{upload_id}}"): Operation(
        "tusDiscoverUpload",
        EVERY_REQUEST,
        summary="tus capabilities (no key needed)",
        public=True,
        parameters=(
            {"name": "upload_id", "in": "path", "required": True, "schema": {"type": "string"}},
        ),
        raw_success=_raw(204, "Capabilities", Tus_Version="1.0.0", Tus_Extension="Extensions"),
    ),
    ("POST", f"{API}/tus/"): Operation(
        "tusCreateUpload",
        (*AUTHENTICATED, 404, 409, 412, 415, 460, 501),
        summary=TUS_DESCRIPTION,
        parameters=(
            TUS_VERSION_HEADER,
            _header("Upload-Length", "Total size in bytes", type="string", pattern="^[0-9]+$"),
            _header("Upload-Defer-Length", "1: the length is sent later", type="string"),
            _header("Upload-Metadata", "key base64,… (filename, filetype, routeSlug)"),
        ),
        request_body=TUS_BODY,
        raw_success=_raw(
            201, "Created", Location="The upload's URL", Upload_Expires="When it expires"
        ),
    ),
    ("HEAD", f"{API}/tus/{{upload_id}}"): Operation(
        "tusGetOffset",
        (*AUTHENTICATED, 404, 410, 412, 501),
        summary="The upload's offset",
        parameters=(TUS_VERSION_HEADER,),
        raw_success=_raw(200, "Offset", Upload_Offset="Bytes received so far"),
    ),
    ("PATCH", f"{API}/tus/{{upload_id}}"): Operation(
        "tusAppend",
        (*AUTHENTICATED, 404, 409, 410, 412, 415, 423, 460, 501),
        summary="Append bytes at Upload-Offset",
        parameters=(
            TUS_VERSION_HEADER,
            _header("Upload-Offset", "Where these bytes start", required=True, pattern="^[0-9]+$"),
            _header("Upload-Checksum", "algorithm base64-digest of this chunk"),
        ),
        request_body=TUS_BODY,
        raw_success=_raw(204, "Appended", Upload_Offset="Bytes received so far"),
    ),
    ("DELETE", f"{API}/tus/{{upload_id}}"): Operation(
        "tusTerminate",
        (*AUTHENTICATED, 404, 410, 412, 423, 501),
        summary="Terminate an unfinished upload",
        parameters=(TUS_VERSION_HEADER,),
        raw_success=_raw(204, "Terminated"),
    ),
    # -- public storage endpoints ----------------------------------------------------------
    ("GET", "/healthz"): Operation(
        "getHealth", EVERY_REQUEST, summary="Liveness: the process answers", public=True
    ),
    ("GET", "/readyz"): Operation(
        "getReadiness",
        (*EVERY_REQUEST, 503),
        summary="Readiness: the database, Redis (when configured) and storage answer",
        public=True,
    ),
    ("GET", "/metrics"): Operation(
        "getMetrics",
        (*EVERY_REQUEST, 401),
        summary="Prometheus metrics (metrics token or allowed address, no API key)",
        public=True,
        raw_success={
            "200": {
                "description": "Prometheus text exposition format",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            }
        },
    ),
    ("PUT", "/storage/objects/{key}"): Operation(
        "putStorageObject",
        (*EVERY_REQUEST, 404, 413),
        summary="Target of a presigned single-PUT URL (local storage)",
        public=True,
        parameters=(
            *PUT_QUERY,
            {**_query("type", "The Content-Type the URL was signed for"), "required": False},
        ),
        request_body=BYTES_BODY,
        raw_success=_raw(200, "Stored", ETag="The object's ETag"),
    ),
    ("PUT", "/storage/parts/{upload_id}/{part_number}/{key}"): Operation(
        "putStoragePart",
        (*EVERY_REQUEST, 404, 413),
        summary="Target of a presigned part URL of a multipart upload (local storage)",
        public=True,
        parameters=PUT_QUERY,
        request_body=BYTES_BODY,
        raw_success=_raw(200, "Stored", ETag="The part's ETag, for multipart/complete"),
    ),
    ("GET", "/cdn/{key}"): Operation(
        "getCdnObject",
        (*EVERY_REQUEST, 404, 416),
        summary="Serve a stored file (redirects to a presigned URL on S3)",
        public=True,
        raw_success={**OBJECT_READ, **_raw(307, "Presigned download URL", Location="URL")},
    ),
    ("HEAD", "/cdn/{key}"): Operation(
        "headCdnObject",
        (*EVERY_REQUEST, 404, 416),
        summary="A stored file's headers",
        public=True,
        raw_success=OBJECT_HEAD,
    ),
}

#: Aliases served but not documented twice (``/api/v1/tus`` without its trailing slash).
UNDOCUMENTED_ALIASES = {f"{API}/tus"}
