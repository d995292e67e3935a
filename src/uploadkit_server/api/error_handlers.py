"""Every error leaves as the SPEC's envelope: ours, FastAPI's validation errors, Starlette's
404/405, malformed JSON, and anything unexpected (a 500 with no stack trace in the body)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from uploadkit_server.errors import (
    InternalError,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    UploadKitError,
    ValidationFailed,
)

logger = logging.getLogger("uploadkit.errors")


class RaisedInBody(StarletteHTTPException):
    """Carries one of our errors out of an ASGI ``receive`` wrapper. FastAPI turns any other
    exception raised while it reads a body into a generic ``400``; this one it re-raises, and
    ``_on_http_exception`` renders the error it carries."""

    def __init__(self, error: UploadKitError) -> None:
        super().__init__(status_code=error.status, detail=error.message)
        self.error = error


def error_response(error: UploadKitError) -> JSONResponse:
    return JSONResponse(error.to_body(), status_code=error.status, headers=error.headers)


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(part) for part in loc if part not in {"body", "query", "path", "header"}]
    return ".".join(parts) or "body"


def validation_error(errors: list[dict[str, Any]]) -> ValidationFailed:
    if any(error.get("type") == "json_invalid" for error in errors):
        return ValidationFailed("Malformed JSON body", details={"body": ["not valid JSON"]})
    details: dict[str, list[str]] = {}
    for error in errors:
        details.setdefault(_field_name(tuple(error.get("loc", ()))), []).append(str(error["msg"]))
    first_field, first_messages = next(iter(details.items()))
    return ValidationFailed(f"Invalid {first_field}: {first_messages[0]}", details=details)


async def _on_uploadkit_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, UploadKitError)
    return error_response(exc)


async def _on_validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(validation_error(list(exc.errors())))


async def _on_http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    error: UploadKitError
    if isinstance(exc, RaisedInBody):
        error = exc.error
    elif exc.status_code == 404:
        error = NotFound(f"No endpoint at {request.method} {request.url.path}")
    elif exc.status_code == 405:
        error = MethodNotAllowed(f"{request.method} is not allowed on {request.url.path}")
    elif exc.status_code == 413:
        error = PayloadTooLarge("Request body too large")
    elif exc.status_code < 500:
        error = ValidationFailed(str(exc.detail))
    else:
        error = InternalError("Internal server error")
    response = error_response(error)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    metrics = getattr(request.app.state, "metrics", None)
    if metrics is not None:
        metrics.backend_error(exc)
    return error_response(InternalError("Internal server error"))


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(UploadKitError, _on_uploadkit_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_exception)
    app.add_exception_handler(Exception, _on_unexpected)
