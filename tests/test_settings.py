"""Settings: plain database URLs, a secret generated once and kept, lists from the environment,
and a data directory private to the server whatever the umask (through ``uploadkit serve``)."""

from __future__ import annotations

import ipaddress
import json
import os
import re
import stat
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from tests.support.live_server import live_server
from uploadkit_server.settings import Settings, to_async_database_url


def test_plain_database_urls_get_async_drivers(tmp_path: Path) -> None:
    assert (
        to_async_database_url("postgresql://u:p@h:5432/db") == "postgresql+asyncpg://u:p@h:5432/db"
    )
    assert to_async_database_url("postgres://h/db") == "postgresql+asyncpg://h/db"
    assert to_async_database_url("postgresql+psycopg://h/db") == "postgresql+asyncpg://h/db"
    assert to_async_database_url("sqlite:////tmp/x.db") == "sqlite+aiosqlite:////tmp/x.db"
    with pytest.raises(ValueError, match="unsupported"):
        to_async_database_url("mysql://h/db")
    embedded = Settings(_env_file=None, data_dir=tmp_path)
    assert embedded.effective_database_url == f"sqlite+aiosqlite:///{tmp_path / 'uploadkit.db'}"


def test_secret_key_is_generated_once_and_kept(tmp_path: Path) -> None:
    first = Settings(_env_file=None, data_dir=tmp_path / "d")
    secret = first.resolved_secret_key()
    assert len(secret) >= 48
    path = tmp_path / "d" / "secret_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = Settings(_env_file=None, data_dir=tmp_path / "d")
    assert again.resolved_secret_key() == secret
    explicit = Settings(_env_file=None, data_dir=tmp_path / "d", secret_key="mine")
    assert explicit.resolved_secret_key() == "mine"


def test_environment_and_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("UPLOADKIT_BILLING_URL=https://example.com/pay\n")
    monkeypatch.setenv("UPLOADKIT_WEBHOOK_RETRY_DELAYS", "1, 2,3")
    monkeypatch.setenv("UPLOADKIT_TRUSTED_PROXIES", "10.0.0.0/8,192.0.2.1")
    monkeypatch.setenv("UPLOADKIT_REQUIRE_HTTPS", "false")
    settings = Settings()
    assert settings.billing_url == "https://example.com/pay"
    assert settings.webhook_retry_delays == [1, 2, 3]
    assert ipaddress.ip_address("10.9.8.7") in settings.trusted_proxies[0]
    assert settings.require_https.value == "false"


def test_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UPLOADKIT_STORAGE", "s3")
    with pytest.raises(ValidationError, match="S3_BUCKET"):
        Settings(_env_file=None)
    monkeypatch.delenv("UPLOADKIT_STORAGE")
    monkeypatch.setenv("UPLOADKIT_WEBHOOK_RETRY_DELAYS", "1,-5")
    with pytest.raises(ValidationError):
        Settings(_env_file=None)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("WEBHOOK_TIMEOUT", "0"),
        ("JOB_INTERVAL", "-1"),
        ("TEST_MODE_TTL", "-5"),
        ("REDIS_TIMEOUT", "0"),
    ],
)
def test_durations_must_be_positive(name: str, value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(f"UPLOADKIT_{name}", value)
    with pytest.raises(ValidationError):
        Settings(_env_file=None)


def test_every_setting_is_in_the_configuration_table() -> None:
    table = (Path(__file__).parents[1] / "docs" / "configuration.md").read_text()
    documented = set(re.findall(r"^\| `([A-Z0-9_]+)`", table, flags=re.MULTILINE))
    documented |= set(re.findall(r"^\| `[A-Z0-9_]+`, `([A-Z0-9_]+)`", table, flags=re.MULTILINE))
    settings = {name.upper() for name in Settings.model_fields}
    assert settings - documented == set(), "settings missing from docs/configuration.md"
    assert documented - settings - {"HOST", "PORT"} == set(), "documented but not a setting"


# -- the data directory, as ``uploadkit serve`` leaves it -------------------------------------


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_files_on_disk_are_private_whatever_the_umask(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    previous = os.umask(0o022)  # the usual default, inherited by the server process
    try:
        with live_server({}, data_dir=data_dir) as live:
            key = json.loads((data_dir / "dev-keys.json").read_text())["keys"]["live"]
            ticket = live.request_upload(key, name="secret.txt", size=6, content_type="text/plain")
            put = httpx.put(
                ticket["uploadUrl"], content=b"secret", headers={"content-type": "text/plain"}
            )
            assert put.status_code == 200, put.text
            done = live.complete(key, ticket["fileId"])
            assert done.status_code == 200, done.text
    finally:
        os.umask(previous)
    assert mode(data_dir) == 0o700
    database_files = list(data_dir.glob("uploadkit.db*"))
    assert data_dir / "uploadkit.db" in database_files
    for path in database_files:
        assert mode(path) == 0o600, path
    stored = [p for p in (data_dir / "storage").rglob("*") if p.is_file()]
    assert any(p.read_bytes() == b"secret" for p in stored), stored
    for path in stored:
        assert mode(path) == 0o600, path
    for path in (data_dir / "storage").rglob("*"):
        if path.is_dir():
            assert mode(path) == 0o700, path
    assert mode(data_dir / "dev-keys.json") == 0o600


def test_an_existing_world_readable_database_is_tightened(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with live_server({}, data_dir=data_dir):
        pass
    data_dir.chmod(0o755)
    (data_dir / "uploadkit.db").chmod(0o644)
    with live_server({}, data_dir=data_dir):
        pass
    assert mode(data_dir) == 0o700
    assert mode(data_dir / "uploadkit.db") == 0o600
