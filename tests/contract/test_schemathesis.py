"""Property-based run of the whole API against its own OpenAPI document (schemathesis), through
the real ASGI app with a valid key: no server errors, no status the document does not list, no
response that does not match its schema.

Bounded so that the default run stays short: a few examples per operation, and a short
stateful run following the document's links (request an upload, then complete it; create a
project, then read, rename and delete it). ``UPLOADKIT_SCHEMATHESIS_EXAMPLES`` raises the bound
for a long run by hand.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test
from schemathesis.checks import not_a_server_error
from schemathesis.python.asgi import shutdown_lifespans
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.contract.conftest import ContractApp
from tests.support.services import unavailable
from uploadkit_server.api.openapi import build_document
from uploadkit_server.app import create_app
from uploadkit_server.settings import Settings

#: (operation, status) of every generated request, for the check at the end.
SEEN: set[tuple[str, int]] = set()
EXAMPLES = int(os.environ.get("UPLOADKIT_SCHEMATHESIS_EXAMPLES", "12"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


# tus bodies are plain bytes under their own media type.
schemathesis.serializer.alias("application/offset+octet-stream", "application/octet-stream")

#: Generated from the document alone (no server needed to collect); each case is sent to the
#: module's app, whose lifespan schemathesis starts on first use and which is stopped below.
schema = schemathesis.openapi.from_dict(build_document(create_app(Settings(_env_file=None))))


@pytest.fixture(scope="module")
def app(contract_app: FastAPI) -> Iterator[FastAPI]:
    yield contract_app
    shutdown_lifespans()


@pytest.fixture
def auth_headers(contract: ContractApp) -> dict[str, str]:
    return {"x-api-key": contract.live_key}


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_every_operation_keeps_its_contract(
    case: schemathesis.Case[Any], app: FastAPI, auth_headers: dict[str, str]
) -> None:
    response = case.call_and_validate(app=app, headers=auth_headers, checks=CHECKS)
    SEEN.add((case.operation.label, response.status_code))


def test_linked_operations_keep_their_contract(app: FastAPI, auth_headers: dict[str, str]) -> None:
    """Sequences that follow the document's links: a project created, then read, renamed, given
    file routes and keys, deleted; a file route created, then read, updated, deleted."""

    class Workflow(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: schemathesis.Case[Any]) -> dict[str, object]:
            return {"app": app, "headers": auth_headers}

        def validate_response(
            self, response: schemathesis.Response, case: schemathesis.Case[Any], **kwargs: object
        ) -> None:
            case.validate_response(response, checks=CHECKS)
            SEEN.add((case.operation.label, response.status_code))

    run_state_machine_as_test(
        Workflow,
        settings=settings(
            max_examples=max(EXAMPLES // 2, 3),
            stateful_step_count=6,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
        ),
    )


def test_the_run_got_past_authentication() -> None:
    """Not vacuous: the generated requests reached the endpoints with a working key."""
    if not SEEN:
        unavailable("the property run did not run before this check (deselected?)")
    succeeded = {label for label, status in SEEN if status < 300}
    assert "POST /api/v1/projects" in succeeded
    assert "GET /api/v1/files" in succeeded
    assert "GET /api/v1/usage" in succeeded
    through_links = {
        "GET /api/v1/projects/{project_id}",
        "PATCH /api/v1/projects/{project_id}",
        "DELETE /api/v1/projects/{project_id}",
        "GET /api/v1/projects/{project_id}/routers",
        "GET /api/v1/projects/{project_id}/keys",
    }
    assert len(through_links & succeeded) >= 2, sorted(succeeded)  # ids from earlier responses
    assert len(succeeded) >= 18, sorted(succeeded)
