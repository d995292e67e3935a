"""Settings: plain database URLs, a secret generated once and kept, lists from the environment."""

from __future__ import annotations

import ipaddress
import re
import stat
from pathlib import Path

import pytest
from pydantic import ValidationError

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
    embedded = Settings(_env_file=None, data_dir=tmp_path)  # type: ignore[call-arg]
    assert embedded.effective_database_url == f"sqlite+aiosqlite:///{tmp_path / 'uploadkit.db'}"


def test_secret_key_is_generated_once_and_kept(tmp_path: Path) -> None:
    first = Settings(_env_file=None, data_dir=tmp_path / "d")  # type: ignore[call-arg]
    secret = first.resolved_secret_key()
    assert len(secret) >= 48
    path = tmp_path / "d" / "secret_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = Settings(_env_file=None, data_dir=tmp_path / "d")  # type: ignore[call-arg]
    assert again.resolved_secret_key() == secret
    explicit = Settings(_env_file=None, data_dir=tmp_path / "d", secret_key="mine")  # type: ignore[call-arg]
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
        Settings(_env_file=None)  # type: ignore[call-arg]
    monkeypatch.delenv("UPLOADKIT_STORAGE")
    monkeypatch.setenv("UPLOADKIT_WEBHOOK_RETRY_DELAYS", "1,-5")
    with pytest.raises(ValidationError):
        Settings(_env_file=None)  # type: ignore[call-arg]


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
        Settings(_env_file=None)  # type: ignore[call-arg]


def test_every_setting_is_in_the_configuration_table() -> None:
    table = (Path(__file__).parents[1] / "docs" / "configuration.md").read_text()
    documented = set(re.findall(r"^\| `([A-Z0-9_]+)`", table, flags=re.MULTILINE))
    documented |= set(re.findall(r"^\| `[A-Z0-9_]+`, `([A-Z0-9_]+)`", table, flags=re.MULTILINE))
    settings = {name.upper() for name in Settings.model_fields}
    assert settings - documented == set(), "settings missing from docs/configuration.md"
    assert documented - settings - {"HOST", "PORT"} == set(), "documented but not a setting"
