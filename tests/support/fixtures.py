"""Fixtures a test module binds by name to shape the app it tests, instead of writing the same
fixture body again::

    settings_overrides = with_settings(job_interval=3600)
    settings_overrides = with_s3_settings(webhook_allow_private=True)
    route_fields = with_route(maxFileSize="64MB")
    route_fields = with_hooked_route(maxFileSize="64MB")  # webhooks to the ``receiver`` fixture
    db_kind = with_db_kind("sqlite")
    storage = with_local_storage()
    waiting = with_waiting_file("proj_test/files/abc/notes.txt")

``settings_overrides`` is read by ``settings`` in ``tests/conftest.py``; ``route_fields`` by
``route`` in ``tests/api/conftest.py``. A module whose values depend on other fixtures (a Redis
prefix) still defines its own fixture of that name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.support.file_records import record_file
from tests.support.webhook_receiver import WebhookReceiver
from uploadkit_server.runtime import Runtime
from uploadkit_server.storage.local import LocalStorage

if TYPE_CHECKING:
    from _pytest.fixtures import FixtureFunctionDefinition


def with_settings(**values: object) -> FixtureFunctionDefinition:
    """A ``settings_overrides`` fixture: these settings for every app in the module."""

    @pytest.fixture(name="settings_overrides")
    def settings_overrides() -> dict[str, object]:
        return dict(values)

    return settings_overrides


def with_s3_settings(*, strict: bool = False, **values: object) -> FixtureFunctionDefinition:
    """A ``settings_overrides`` fixture: storage in a fresh bucket of the S3 test server, plus
    these settings. ``strict`` picks the server that checks presigned signatures
    (``tests/support/s3server.py``)."""
    if strict:

        @pytest.fixture(name="settings_overrides")
        def strict_s3_settings(
            strict_s3_settings_overrides: dict[str, object],
        ) -> dict[str, object]:
            return {**strict_s3_settings_overrides, **values}

        return strict_s3_settings

    @pytest.fixture(name="settings_overrides")
    def s3_settings(s3_settings_overrides: dict[str, object]) -> dict[str, object]:
        return {**s3_settings_overrides, **values}

    return s3_settings


def with_route(**fields: object) -> FixtureFunctionDefinition:
    """A ``route_fields`` fixture: the module's route ``files`` is created with these fields."""

    @pytest.fixture(name="route_fields")
    def route_fields() -> dict[str, object]:
        return dict(fields)

    return route_fields


def with_hooked_route(**fields: object) -> FixtureFunctionDefinition:
    """A ``route_fields`` fixture like ``with_route``'s, whose webhooks go to the test's
    ``receiver`` (``tests/conftest.py``)."""

    @pytest.fixture(name="route_fields")
    def hooked_route_fields(receiver: WebhookReceiver) -> dict[str, object]:
        return {**fields, "webhookUrl": receiver.url}

    return hooked_route_fields


def with_db_kind(kind: str) -> FixtureFunctionDefinition:
    """A ``db_kind`` fixture: the module's tests run on this database kind only, for tests the
    database is not what they are about (``tests/conftest.py`` runs every test on both)."""

    @pytest.fixture(name="db_kind")
    def one_db_kind() -> str:
        return kind

    return one_db_kind


def with_local_storage() -> FixtureFunctionDefinition:
    """A ``storage`` fixture: the app's local backend (the default ``UPLOADKIT_STORAGE``)."""

    @pytest.fixture(name="storage")
    def local_storage(runtime: Runtime) -> LocalStorage:
        assert isinstance(runtime.storage, LocalStorage)
        return runtime.storage

    return local_storage


def with_waiting_file(key: str) -> FixtureFunctionDefinition:
    """An autouse ``waiting`` fixture: ``key`` belongs to a file waiting for its bytes, as
    ``/upload/request`` leaves it. The storage endpoint takes bytes for no other key."""

    @pytest.fixture(name="waiting", autouse=True)
    async def waiting_file(runtime: Runtime) -> None:
        await record_file(runtime.sessionmaker, key)

    return waiting_file
