"""Reaching the test services: a test that needs PostgreSQL, Redis or S3 skips with a reason on
a laptop without them, and fails under ``CI=true``, where a skip would hide a break."""

from __future__ import annotations

import os
import socket
from typing import NoReturn
from urllib.parse import urlsplit

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

TEST_DATABASE_URL = os.environ.get(
    "UPLOADKIT_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
TEST_REDIS_URL = os.environ.get("UPLOADKIT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), 1
        ):
            return True
    except OSError:
        return False


def unavailable(message: str) -> NoReturn:
    """What a test does when something it needs (a service, a binary, a package) is missing:
    skip on a laptop, fail under ``CI=true``. Every such check goes through here."""
    if IN_CI:
        pytest.fail(f"{message}: CI=true requires it")
    pytest.skip(f"{message} (required when CI=true)")


def require_service(name: str, url: str, default_port: int) -> None:
    if not reachable(url, default_port):
        unavailable(f"{name} not reachable at {url}; set the URL or start the service")
