"""The OpenAPI document is valid 3.1, and says what the contract needs: an id for people on
every operation, the key as a security scheme, and the error envelope on every error."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from openapi_spec_validator import validate

from uploadkit_server.api.openapi import OPERATIONS, UNDOCUMENTED_ALIASES, build_document
from uploadkit_server.app import create_app
from uploadkit_server.settings import Settings

METHODS = {"get", "head", "post", "put", "patch", "delete", "options"}


@pytest.fixture(scope="module")
def document() -> dict[str, object]:
    return build_document(create_app(Settings(_env_file=None)))


def operations(document: dict[str, object]) -> list[tuple[str, str, dict[str, object]]]:
    paths = document["paths"]
    assert isinstance(paths, dict)
    return [
        (method, path, operation)
        for path, item in paths.items()
        for method, operation in item.items()
        if method in METHODS
    ]


def test_the_document_passes_the_openapi_validator(document: dict[str, object]) -> None:
    assert document["openapi"] == "3.1.0"
    validate(document)  # raises on any error


def test_operation_ids_are_unique_and_named_for_people(document: dict[str, object]) -> None:
    ids = [op["operationId"] for _, _, op in operations(document)]
    assert len(ids) == len(set(ids))
    assert all(isinstance(i, str) and i.isalnum() and i[0].islower() for i in ids), ids
    by_path = {(m, p): op["operationId"] for m, p, op in operations(document)}
    assert by_path["get", "/cdn/{key}"] == "getCdnObject"
    assert by_path["head", "/cdn/{key}"] == "headCdnObject"
    assert by_path["post", "/api/v1/upload/request"] == "requestUpload"
    assert by_path["get", "/api/v1/files"] == "listFiles"


def test_every_endpoint_has_an_entry_in_the_table() -> None:
    app = create_app(Settings(_env_file=None))
    declared = {
        (method, context.path_format)
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute) and context.original_route.include_in_schema
        for method in context.methods or ()
    }
    declared = {(m, p) for m, p in declared if p not in UNDOCUMENTED_ALIASES}
    assert declared == set(OPERATIONS)


def test_errors_are_the_envelope_and_there_is_no_422_for_validation(
    document: dict[str, object],
) -> None:
    for method, path, operation in operations(document):
        responses = operation["responses"]
        assert isinstance(responses, dict)
        assert "400" in responses and "403" in responses, (method, path)
        for status, response in responses.items():
            if int(status) >= 400:
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorResponse"}, (method, path)
        if method == "get":
            assert "422" not in responses, (method, path)  # validation errors are 400s
    schemas = document["components"]["schemas"]  # type: ignore[index]
    assert "HTTPValidationError" not in schemas
    assert set(schemas["ErrorDetail"]["properties"]) >= {"code", "message", "suggestion"}


def test_the_key_is_a_security_scheme_not_a_parameter(document: dict[str, object]) -> None:
    schemes = document["components"]["securitySchemes"]  # type: ignore[index]
    assert schemes["apiKeyHeader"] == {
        **schemes["apiKeyHeader"],
        "in": "header",
        "name": "x-api-key",
    }
    assert schemes["bearerAuth"]["scheme"] == "bearer"
    for method, path, operation in operations(document):
        names = {p["name"].lower() for p in operation.get("parameters", [])}  # type: ignore[attr-defined]
        assert not names & {"x-api-key", "authorization"}, (method, path)
        if path.startswith("/api/v1/") and method != "options":
            assert operation["security"] == [{"apiKeyHeader": []}, {"bearerAuth": []}]
            assert "401" in operation["responses"]  # type: ignore[operator]


def test_presigned_puts_describe_their_query_and_body(document: dict[str, object]) -> None:
    put = document["paths"]["/storage/objects/{key}"]["put"]  # type: ignore[index]
    query = {p["name"] for p in put["parameters"] if p["in"] == "query"}
    assert query == {"expires", "length", "signature", "type"}
    assert "application/octet-stream" in put["requestBody"]["content"]
    assert "security" not in put


def test_upload_request_has_examples(document: dict[str, object]) -> None:
    op = document["paths"]["/api/v1/upload/request"]["post"]  # type: ignore[index]
    example = op["requestBody"]["content"]["application/json"]["example"]
    assert example["routeSlug"] == "imageUploader"
    assert op["responses"]["200"]["content"]["application/json"]["example"]["fileId"]


async def test_the_document_is_served_at_both_urls(contract_app: FastAPI) -> None:
    transport = httpx.ASGITransport(app=contract_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        versioned = await http.get("/api/v1/openapi.json")
        root = await http.get("/openapi.json")
        docs = await http.get("/api/v1/docs")
    assert versioned.status_code == root.status_code == 200
    assert versioned.json() == root.json()
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
