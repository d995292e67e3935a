"""The one settings object. Nothing else in the package reads the environment.

Every option is an environment variable prefixed ``UPLOADKIT_`` (a ``.env`` file works too);
the table in ``docs/configuration.md`` lists them with their defaults.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import secrets
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import platformdirs
from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class StorageKind(StrEnum):
    LOCAL = "local"
    S3 = "s3"


class HttpsRule(StrEnum):
    AUTO = "auto"  # plain HTTP refused except from loopback clients
    TRUE = "true"
    FALSE = "false"


class LogFormat(StrEnum):
    TEXT = "text"  # uvicorn's plain lines
    JSON = "json"  # one JSON object per line, with the request id


def _loopback() -> list[IPNetwork]:
    return [ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128")]


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("uploadkit", appauthor=False))


def _split_commas(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="UPLOADKIT_", env_file=".env", extra="ignore", validate_default=True
    )

    # Each option's environment variable is its name in capitals after ``UPLOADKIT_``
    # (``data_dir`` is ``UPLOADKIT_DATA_DIR``); docs/configuration.md has the same list.
    # Durations are seconds throughout.

    #: SQLite database, local storage, generated secret and dev keys; default: the user's data
    #: directory (``~/.local/share/uploadkit`` on Linux). Kept private (``ensure_data_dir``).
    data_dir: Path = Field(default_factory=default_data_dir)
    #: ``postgresql://…`` or ``sqlite:///…``; unset: SQLite file ``uploadkit.db`` in ``data_dir``.
    database_url: str | None = None
    #: ``redis://…`` shares rate-limit windows across processes; unset: in-memory limiter.
    redis_url: str | None = None
    #: Prefix of the rate limiter's Redis keys (one sorted set per API key hash).
    rate_limit_key_prefix: str = "uploadkit:ratelimit:"
    #: Seconds to wait for Redis before deciding in-process instead.
    redis_timeout: float = Field(default=0.5, gt=0)
    #: Seconds between attempts to reach Redis again after it failed.
    redis_retry_interval: float = Field(default=5.0, ge=0)
    #: Where objects live: ``local`` (files under ``data_dir``, served by this server) or ``s3``.
    storage: StorageKind = StorageKind.LOCAL
    #: The bucket, required with ``storage=s3``.
    s3_bucket: str | None = None
    #: Endpoint of an S3-compatible store (R2, MinIO, Ceph); unset: AWS.
    s3_endpoint_url: str | None = None
    #: The bucket's region; unset: from the AWS configuration.
    s3_region: str | None = None
    #: Path-style bucket addressing (MinIO-style servers); default virtual-hosted style.
    s3_force_path_style: bool = False
    #: Base of presigned URLs and of the built-in CDN; `serve` defaults it to its own address.
    public_url: str = "http://127.0.0.1:8000"
    #: Base of file URLs (a separate origin in production); unset: ``{public_url}/cdn``.
    cdn_url: str | None = None
    #: Plain HTTP: ``auto`` refuses it except from loopback clients forwarding for no one,
    #: ``true`` always refuses it, ``false`` allows it.
    require_https: HttpsRule = HttpsRule.AUTO
    #: IPs/CIDRs (comma-separated) of reverse proxies whose ``X-Forwarded-Proto`` and
    #: ``X-Request-Id`` are believed; default none.
    trusted_proxies: Annotated[list[IPNetwork], NoDecode] = Field(default_factory=list)
    #: Seconds between webhook attempts (comma-separated); after the last, a delivery is dead.
    webhook_retry_delays: Annotated[list[int], NoDecode] = Field(
        default_factory=lambda: [60, 300, 1800]
    )
    #: Allow webhook targets on loopback/private networks and plain HTTP (local development).
    webhook_allow_private: bool = False
    #: Seconds a webhook receiver has to answer one attempt.
    webhook_timeout: float = Field(default=30.0, gt=0)
    #: Run the webhook dispatcher inside the server process (off: only `uploadkit worker` sends).
    webhook_dispatcher: bool = True
    #: Seconds between checks for deliveries queued by other processes (same-process commits
    #: wake the dispatcher at once).
    webhook_poll_interval: float = Field(default=0.5, gt=0)
    #: Deliveries sent at the same time by one dispatcher.
    webhook_concurrency: int = Field(default=16, ge=1, le=256)
    #: Seconds finished live deliveries (delivered or dead) are kept, with their attempts;
    #: 0 keeps them forever.
    webhook_retention: int = Field(default=30 * 86400, ge=0)
    #: Seconds a test-mode file lives before the purge removes it (default one day).
    test_mode_ttl: int = Field(default=86400, ge=0)
    #: Signs local storage URLs, variant URLs and dashboard sessions; every process of a
    #: deployment must share it. Unset: generated once and kept in ``{data_dir}/secret_key``.
    secret_key: str | None = None
    #: Where the "upgrade your plan" suggestions of tier limits point.
    billing_url: str = "https://app.uploadkit.dev/billing"
    #: Seconds after an upload URL expires before an unfinished upload is failed and cleaned.
    upload_grace_period: int = Field(default=300, ge=0)
    #: Seconds a stored object no live file names is kept, from when it was written, before
    #: the orphan sweep removes it (jobs/orphaned_objects.py).
    orphan_object_age: int = Field(default=3600, ge=0)
    #: Seconds an incomplete tus upload lives after its last PATCH (``Upload-Expires``).
    tus_upload_lifetime: int = Field(default=86400, gt=0)
    #: Seconds between runs of the periodic jobs (expiry, purges, sweeps, in-memory flushes).
    job_interval: float = Field(default=30.0, gt=0)
    #: Run the shared periodic jobs in the server process (off: `uploadkit worker` runs them);
    #: the flushes of what a process recorded in memory run in every server process anyway.
    run_background_jobs: bool = True
    # -- image transformations (core/transforms; docs/transforms.md) --
    #: Sources larger than this many bytes are not transformed.
    transform_max_source_bytes: int = Field(default=50 * 1024 * 1024, gt=0)
    #: Sources whose header declares more pixels than this are refused before decoding.
    transform_max_pixels: int = Field(default=100_000_000, gt=0)
    #: Seconds one transform may take (decode, resize, encode) before it is stopped.
    transform_timeout: float = Field(default=30.0, gt=0)
    #: Transforms running at once in one process (each uses a worker thread).
    transform_concurrency: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1, le=64)
    #: Lifetime in seconds of signed (``/t/``) variant URLs.
    transform_url_ttl: int = Field(default=3600, ge=1, le=7 * 86400)
    #: ``GET /metrics`` needs ``Authorization: Bearer <token>`` when set; else it answers only
    #: clients in ``metrics_allow`` (loopback by default).
    metrics_token: str | None = None
    #: Client networks (comma-separated IPs/CIDRs) ``GET /metrics`` answers without a token.
    metrics_allow: Annotated[list[IPNetwork], NoDecode] = Field(default_factory=_loopback)
    #: ``text`` (uvicorn's plain lines) or ``json`` (one object per line, with the request id).
    log_format: LogFormat = LogFormat.TEXT

    @field_validator("trusted_proxies", "metrics_allow", mode="before")
    @classmethod
    def _parse_proxies(cls, value: object) -> object:
        return _split_commas(value)

    @field_validator("webhook_retry_delays", mode="before")
    @classmethod
    def _parse_delays(cls, value: object) -> object:
        return _split_commas(value)

    @field_validator("webhook_retry_delays")
    @classmethod
    def _delays_not_negative(cls, value: list[int]) -> list[int]:
        if any(delay < 0 for delay in value):
            raise ValueError("retry delays must be zero or more seconds")
        return value

    @field_validator("public_url", "cdn_url")
    @classmethod
    def _strip_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else value

    @property
    def effective_cdn_url(self) -> str:
        """Base of file URLs: ``CDN_URL``, else this server's own ``/cdn``."""
        return self.cdn_url or f"{self.public_url}/cdn"

    @model_validator(mode="after")
    def _s3_needs_bucket(self) -> Settings:
        if self.storage is StorageKind.S3 and not self.s3_bucket:
            raise ValueError("UPLOADKIT_S3_BUCKET is required when UPLOADKIT_STORAGE=s3")
        return self

    @property
    def effective_database_url(self) -> str:
        """The SQLAlchemy async URL, from the plain forms users write."""
        if not self.database_url:
            return f"sqlite+aiosqlite:///{self.data_dir / 'uploadkit.db'}"
        return to_async_database_url(self.database_url)

    def ensure_data_dir(self) -> Path:
        """The data directory, private to the server's user whatever the umask it started with.

        The SQLite database holds ``whsec_`` secrets and signing keys, and stored objects are
        tenants' data, so from here on this process creates files ``0600`` and directories
        ``0700`` (umask 077, also inherited by the worker processes it starts); the directory
        itself and a database left by an older version are tightened to match.
        """
        os.umask(os.umask(0o077) | 0o077)
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        for path in (self.data_dir, *self.data_dir.glob("uploadkit.db*")):
            with contextlib.suppress(OSError):  # not ours to change (a shared mount): leave it
                mode = path.stat().st_mode & 0o777
                if mode & 0o077:
                    path.chmod(mode & 0o700)
        return self.data_dir

    def resolved_secret_key(self) -> str:
        """The configured secret, or one generated on first run and kept in the data directory."""
        if self.secret_key:
            return self.secret_key
        path = self.ensure_data_dir() / "secret_key"
        try:
            return path.read_text().strip()
        except FileNotFoundError:
            pass
        key = secrets.token_urlsafe(48)
        try:
            with path.open("x") as handle:  # "x": two processes starting at once keep one key
                path.chmod(0o600)
                handle.write(key)
        except FileExistsError:
            return path.read_text().strip()
        return key


def to_async_database_url(url: str) -> str:
    """``postgresql://…`` → ``postgresql+asyncpg://…``, ``sqlite:///…`` → ``sqlite+aiosqlite:///…``."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError(f"not a database URL: {url!r}")
    base = scheme.split("+", 1)[0]
    if base in {"postgres", "postgresql"}:
        return f"postgresql+asyncpg://{rest}"
    if base == "sqlite":
        return f"sqlite+aiosqlite://{rest}"
    raise ValueError(f"unsupported database {scheme!r}: use postgresql:// or sqlite://")
