"""The OpenAPI document as a contract: one operation id, the statuses it can really send, its
security and its examples, for every operation, kept in one table (``openapi_operations.py``).

FastAPI derives paths, parameters and schemas from the endpoints; what it cannot know (which
errors a service raises, that the key is a security scheme rather than two headers, that a CDN
``GET`` and ``HEAD`` are two operations) is laid over that document from ``OPERATIONS``, keyed
by method and path. ``tests/contract/test_openapi_document.py`` fails when an endpoint has no
entry, so a new endpoint cannot ship undocumented; schemathesis
(``tests/contract/test_schemathesis.py``) checks that the statuses listed are the ones sent.

Every error is the envelope of ``errors.py`` and is documented with ``ErrorResponse``.
FastAPI's ``422`` is dropped: validation errors are sent as ``400`` (a ``422`` documented here is
a verification or idempotency error).
"""

from __future__ import annotations

import copy
import warnings
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse

from uploadkit_server.api.openapi_operations import (
    API,
    IDEMPOTENCY_HEADER,
    OPERATIONS,
    SECURITY,
    UNDOCUMENTED_ALIASES,
    Operation,
)
from uploadkit_server.core.schemas import ErrorResponse

__all__ = ["OPERATIONS", "UNDOCUMENTED_ALIASES", "build_document", "install_openapi"]


#: Why each status is sent, used as the response's description.


REASONS: dict[int, str] = {
    400: "VALIDATION_ERROR: malformed request (bad field, malformed JSON, NUL in the URL)",
    401: "UNAUTHORIZED: missing, unknown or revoked API key",
    403: "HTTPS_REQUIRED over plain HTTP, or a tier, mode or signature refusal",
    404: "NOT_FOUND or UPLOAD_NOT_FOUND: nothing by that id in the key's project and mode",
    409: "Conflict with the resource's state, or IDEMPOTENCY_KEY_IN_USE (a retry while the "
    "first request with its Idempotency-Key still runs)",
    410: "UPLOAD_EXPIRED: the resumable upload expired",
    412: "TUS_VERSION_UNSUPPORTED: Tus-Resumable is not 1.0.0",
    413: "PAYLOAD_TOO_LARGE or FILE_TOO_LARGE",
    415: "FILE_TYPE_NOT_ALLOWED or UNSUPPORTED_MEDIA_TYPE",
    416: "RANGE_NOT_SATISFIABLE: the range starts past the end",
    422: "UPLOAD_NOT_VERIFIED or FILE_TYPE_MISMATCH (the stored bytes fail verification), or "
    "IDEMPOTENCY_KEY_REUSED (the key was used with another request)",
    423: "UPLOAD_LOCKED: another request is appending to this upload",
    429: "RATE_LIMITED (or a monthly transform limit); see Retry-After",
    431: "REQUEST_HEADERS_TOO_LARGE: the request's headers exceed the server's limit",
    460: "CHECKSUM_MISMATCH: the chunk does not match Upload-Checksum",
    503: "NOT_READY: a dependency (database, Redis, storage) does not answer; see details",
    501: "TUS_UNAVAILABLE: this storage backend takes no resumable uploads",
    504: "IMAGE_TRANSFORM_TIMEOUT: the variant took too long to make",
}


SECURITY_SCHEMES = {
    "apiKeyHeader": {
        "type": "apiKey",
        "in": "header",
        "name": "x-api-key",
        "description": "A project's API key (uk_live_… or uk_test_…)",
    },
    "bearerAuth": {
        "type": "http",
        "scheme": "bearer",
        "description": "The same API key as `Authorization: Bearer <key>`",
    },
}
#: Headers the key is read from; declared by the security schemes instead of per operation.
KEY_HEADERS = {"x-api-key", "authorization"}


def _error_response(status: int) -> dict[str, Any]:
    return {
        "description": REASONS[status],
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
    }


def _apply(operation: dict[str, Any], spec: Operation, *, method: str, path: str) -> None:
    operation["operationId"] = spec.operation_id
    if spec.summary:
        operation["summary"] = spec.summary
    params = [p for p in operation.get("parameters", []) if p["name"].lower() not in KEY_HEADERS]
    params.extend(copy.deepcopy(list(spec.parameters)))
    if params:
        operation["parameters"] = params
    else:
        operation.pop("parameters", None)
    if not spec.public:
        operation["security"] = SECURITY
    errors = set(spec.errors)
    if method == "post" and not spec.public and not path.startswith(f"{API}/tus"):
        params.append(copy.deepcopy(IDEMPOTENCY_HEADER))
        operation["parameters"] = params
        errors |= {409, 422}  # IDEMPOTENCY_KEY_IN_USE, IDEMPOTENCY_KEY_REUSED
    if spec.request_body is not None:
        operation["requestBody"] = copy.deepcopy(spec.request_body)
    if spec.request_example is not None:
        content = operation["requestBody"]["content"]["application/json"]
        content["example"] = spec.request_example
    responses: dict[str, Any] = operation.get("responses", {})
    responses.pop("422", None)
    if spec.raw_success is not None:
        responses = {
            code: r for code, r in responses.items() if not code.startswith("2")
        } | copy.deepcopy(spec.raw_success)
    for status, description in spec.success.items():
        first = next(r for code, r in responses.items() if code.startswith("2"))
        responses[str(status)] = {**copy.deepcopy(first), "description": description}
    if spec.response_example is not None:
        first = next(r for code, r in responses.items() if code.startswith("2"))
        first["content"]["application/json"]["example"] = spec.response_example
    if spec.links:
        first = next(r for code, r in responses.items() if code.startswith("2"))
        first["links"] = {
            f"{target[0].upper()}{target[1:]}": {"operationId": target, "parameters": parameters}
            for target, parameters in spec.links.items()
        }
    for status in sorted(errors):
        responses[str(status)] = _error_response(status)
    operation["responses"] = dict(sorted(responses.items()))


def build_document(app: FastAPI) -> dict[str, Any]:
    with warnings.catch_warnings():
        # GET and HEAD of one endpoint share FastAPI's id; each gets its own just below.
        warnings.filterwarnings("ignore", message="Duplicate Operation ID")
        document = get_openapi(
            title=app.title,
            version=app.version,
            openapi_version="3.1.0",
            description=app.description,
            routes=app.routes,
        )
    paths: dict[str, dict[str, Any]] = document["paths"]
    for alias in UNDOCUMENTED_ALIASES:
        paths.pop(alias, None)
    for path, operations in paths.items():
        for method, operation in operations.items():
            spec = OPERATIONS.get((method.upper(), path))
            if spec is None:
                raise LookupError(f"{method.upper()} {path} has no entry in api/openapi.py")
            _apply(operation, spec, method=method, path=path)
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    error_schema = ErrorResponse.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(error_schema.pop("$defs", {}))
    schemas["ErrorResponse"] = error_schema
    components["securitySchemes"] = SECURITY_SCHEMES
    return document


def install_openapi(app: FastAPI) -> None:
    """Serve ``build_document`` as the app's OpenAPI document, built once on first request, at
    ``/api/v1/openapi.json`` and at the conventional ``/openapi.json``."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_document(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    async def root_openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    app.add_api_route("/openapi.json", root_openapi, methods=["GET"], include_in_schema=False)
