"""A client generated from the document with ``openapi-python-client`` works: it has every
operation under its own name (the CDN's GET too), takes the key once as a bearer token, and
makes real calls against the app."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import make_account
from uploadkit_server.api.openapi import build_document
from uploadkit_server.app import create_app
from uploadkit_server.runtime import Runtime
from uploadkit_server.settings import Settings

PACKAGE = "uploadkit_generated"


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("generated")
    document = root / "openapi.json"
    document.write_text(json.dumps(build_document(create_app(Settings(_env_file=None)))))
    generator = Path(sys.executable).with_name("openapi-python-client")
    result = subprocess.run(
        [
            str(generator),
            "generate",
            "--path",
            str(document),
            "--meta",
            "none",
            "--output-path",
            str(root / PACKAGE),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    sys.path.insert(0, str(root))
    try:
        yield root / PACKAGE
    finally:
        sys.path.remove(str(root))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


def module(name: str) -> ModuleType:
    return importlib.import_module(f"{PACKAGE}.{name}")


def test_every_operation_is_generated_under_its_own_name(generated: Path) -> None:
    names = {path.stem for path in generated.glob("api/*/*.py") if path.stem != "__init__"}
    assert {"request_upload", "list_files", "get_cdn_object", "head_cdn_object"} <= names


async def test_a_generated_client_lists_files_with_the_key_given_once(
    generated: Path, app: FastAPI, runtime: Runtime
) -> None:
    new = await make_account(runtime, email="generated@example.com")
    client_module: Any = module("client")
    client = client_module.AuthenticatedClient(base_url="http://testserver", token=new.live_key)
    client.set_async_httpx_client(
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://testserver",
            headers={"Authorization": f"Bearer {new.live_key}"},
        )
    )
    list_files: Any = module("api.files.list_files")
    async with client:
        response = await list_files.asyncio_detailed(client=client)
    assert response.status_code == 200, response.content
    page = response.parsed
    assert type(page).__name__ == "PageFileRead"
    assert page.items == [] and page.has_more is False
