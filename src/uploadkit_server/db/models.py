"""Tables. Public identifiers are prefixed strings; ``pk`` columns give creation order for
keyset pagination (records made in the same millisecond keep their order)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from uploadkit_server.clock import utcnow
from uploadkit_server.db.base import Base, BigIntPK, UTCDateTime


class Tier(StrEnum):
    FREE = "FREE"
    PRO = "PRO"
    TEAM = "TEAM"
    ENTERPRISE = "ENTERPRISE"


class FileStatus(StrEnum):
    UPLOADING = "UPLOADING"
    UPLOADED = "UPLOADED"
    FAILED = "FAILED"
    DELETED = "DELETED"


class FailureReason(StrEnum):
    NOT_VERIFIED = "not_verified"
    EXPIRED = "expired"
    ABORTED = "aborted"
    TYPE_MISMATCH = "type_mismatch"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"  # last attempt failed, another is scheduled
    DEAD = "dead"


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class Account(TimestampMixin, Base):
    __tablename__ = "accounts"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    tier: Mapped[str] = mapped_column(String(16), default=Tier.FREE)
    rate_limit: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: Live bytes held: stored UPLOADED files plus reservations of uploads in flight.
    storage_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    #: Test-mode bytes, informational only (test mode has no quota).
    test_storage_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    #: Argon2 hash of the dashboard password; null until one is set (no dashboard sign-in).
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)


class Project(TimestampMixin, Base):
    __tablename__ = "projects"
    __table_args__ = (UniqueConstraint("account_id", "slug"),)

    pk: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(40), unique=True)
    account_id: Mapped[str] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    slug: Mapped[str] = mapped_column(String(120))
    current_signing_key: Mapped[str] = mapped_column(String(100))
    next_signing_key: Mapped[str] = mapped_column(String(100))
    webhook_secret: Mapped[str] = mapped_column(String(100))
    #: The secret before the last rotation: deliveries are signed with it too until then.
    previous_webhook_secret: Mapped[str | None] = mapped_column(String(100), nullable=True)
    previous_webhook_secret_expires_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime(), nullable=True
    )

    account: Mapped[Account] = relationship(lazy="raise")


class ApiKey(Base):
    __tablename__ = "api_keys"

    pk: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(40), unique=True)
    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    account_id: Mapped[str] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100), default="")
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    key_prefix: Mapped[str] = mapped_column(String(40))
    is_test: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class ClientToken(Base):
    """A short-lived upload grant a server hands to a browser: one route, a file budget.

    Stored as a SHA-256 hash like an API key; it dies at ``expires_at`` or with its API key
    (tokens the dashboard issues for its signed-in user have none and live until expiry)."""

    __tablename__ = "client_tokens"

    pk: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(40), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    api_key_id: Mapped[str | None] = mapped_column(
        ForeignKey("api_keys.id", ondelete="CASCADE"), nullable=True
    )
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    is_test: Mapped[bool] = mapped_column(Boolean, default=False)
    route_slug: Mapped[str] = mapped_column(String(100))
    #: Metadata every file uploaded with the token gets, over what the browser sends.
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSON, nullable=True)
    max_file_count: Mapped[int] = mapped_column(Integer)
    max_file_size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    #: Uploads admitted so far; counted up in the request's transaction, capped by max_file_count.
    uploads_started: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class FileRoute(TimestampMixin, Base):
    __tablename__ = "file_routes"
    __table_args__ = (UniqueConstraint("project_id", "slug"),)

    pk: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(40), unique=True)
    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    slug: Mapped[str] = mapped_column(String(100))
    max_file_size: Mapped[int] = mapped_column(BigInteger)
    max_file_count: Mapped[int] = mapped_column(Integer, default=1)
    allowed_types: Mapped[list[str]] = mapped_column(JSON, default=lambda: ["*/*"])
    webhook_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: How the sniffed content type must agree with the declared one: off, lenient or strict.
    type_check: Mapped[str] = mapped_column(String(16), default="lenient", server_default="lenient")


class File(TimestampMixin, Base):
    __tablename__ = "files"
    __table_args__ = (
        Index("ix_files_listing", "project_id", "is_test", "status", "pk"),
        Index("ix_files_expiry", "status", "expires_at"),
        Index("ix_files_test_purge", "is_test", "created_at"),
    )

    pk: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(40), unique=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    account_id: Mapped[str] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    route_id: Mapped[str | None] = mapped_column(
        ForeignKey("file_routes.id", ondelete="SET NULL"), nullable=True
    )
    route_slug: Mapped[str] = mapped_column(String(100))
    is_test: Mapped[bool] = mapped_column(Boolean, default=False)
    key: Mapped[str] = mapped_column(String(1024), unique=True)
    file_name: Mapped[str] = mapped_column(String(255))
    file_size: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default=FileStatus.UPLOADING)
    failure_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    #: Storage's multipart upload id; null for single-PUT uploads.
    upload_id: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    part_size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    #: Bytes counted against the account's storage for this file (0 once released).
    reserved_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    #: Month ("YYYY-MM") whose in-flight upload counter holds this upload; null once released.
    reserved_month: Mapped[str | None] = mapped_column(String(7), nullable=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    uploaded_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    #: Hex SHA-256 of the stored bytes, computed by the server; null where it was not computed.
    sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: The checksum the client declared, ``{algorithm}:{base64 digest}``; the bytes must match.
    checksum: Mapped[str | None] = mapped_column(String(80), nullable=True)
    #: The type the first bytes show (magic numbers), null if unknown or not checked.
    detected_type: Mapped[str | None] = mapped_column(String(255), nullable=True)


class TusUpload(Base):
    """A resumable (tus) upload: its progress, its store handle and a lease that serialises
    PATCHes across processes. The file row exists once the length is known."""

    __tablename__ = "tus_uploads"
    __table_args__ = (Index("ix_tus_uploads_expiry", "completed_at", "expires_at"),)

    pk: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(40), unique=True)
    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    is_test: Mapped[bool] = mapped_column(Boolean, default=False)
    file_id: Mapped[str | None] = mapped_column(
        ForeignKey("files.id", ondelete="CASCADE"), nullable=True
    )
    route_slug: Mapped[str] = mapped_column(String(100))
    file_name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(255))
    #: User metadata parsed from ``Upload-Metadata``; ``raw_metadata`` is the header as sent.
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    raw_metadata: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: Null while the length is deferred (creation-defer-length).
    upload_length: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    upload_offset: Mapped[int] = mapped_column(BigInteger, default=0)
    #: The object key the file gets (chosen at creation, also when the length is deferred).
    key: Mapped[str] = mapped_column(String(1024))
    #: The tus store's handle for the bytes received so far.
    store_ref: Mapped[str] = mapped_column(Text)
    #: The storage backend's multipart upload holding the bytes, where there is one (S3).
    storage_upload_id: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    lock_token: Mapped[str | None] = mapped_column(String(40), nullable=True)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class UsageMonth(Base):
    """Per account, mode and calendar month (UTC)."""

    __tablename__ = "usage_months"

    account_id: Mapped[str] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    is_test: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    uploads: Mapped[int] = mapped_column(Integer, default=0)
    uploads_in_flight: Mapped[int] = mapped_column(Integer, default=0)
    bytes_uploaded: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_served: Mapped[int] = mapped_column(BigInteger, default=0)
    #: Image transform units charged this month (``core/transforms``).
    transform_units: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class UploadEvent(Base):
    """What ``GET /logs`` returns: one row per uploaded, failed or deleted file."""

    __tablename__ = "upload_events"
    __table_args__ = (Index("ix_upload_events_poll", "project_id", "is_test", "created_at"),)

    pk: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    is_test: Mapped[bool] = mapped_column(Boolean, default=False)
    event: Mapped[str] = mapped_column(String(16))
    file_id: Mapped[str] = mapped_column(String(40))
    file_key: Mapped[str] = mapped_column(String(1024))
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class WebhookDelivery(TimestampMixin, Base):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_listing", "project_id", "is_test", "pk"),
        Index("ix_webhook_deliveries_finished", "status", "updated_at"),
        UniqueConstraint("file_id", "event"),
    )

    pk: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(40), unique=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    is_test: Mapped[bool] = mapped_column(Boolean, default=False)
    file_id: Mapped[str] = mapped_column(String(40))
    event: Mapped[str] = mapped_column(String(40))
    url: Mapped[str] = mapped_column(Text)
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING)
    attempt_count: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    #: Lease: a dispatcher that claimed the row owns it until then.
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class WebhookAttempt(Base):
    __tablename__ = "webhook_attempts"

    pk: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    delivery_pk: Mapped[int] = mapped_column(
        ForeignKey("webhook_deliveries.pk", ondelete="CASCADE"), index=True
    )
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    response_excerpt: Mapped[str | None] = mapped_column(Text, nullable=True)


# -- image transformations (core/transforms) ---------------------------------------------------


class TransformVariant(Base):
    """One generated variant of a file: a concrete recipe (format resolved) and where its bytes
    are. The row is also the generation claim: inserted ``pending`` with a lease by the one
    process that makes the variant (the unique constraint elects it), ``ready`` once stored."""

    __tablename__ = "transform_variants"
    __table_args__ = (UniqueConstraint("file_pk", "recipe"),)

    pk: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    file_pk: Mapped[int] = mapped_column(ForeignKey("files.pk", ondelete="CASCADE"), index=True)
    recipe: Mapped[str] = mapped_column(String(100))
    object_key: Mapped[str] = mapped_column(String(1100))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    claim_token: Mapped[str | None] = mapped_column(String(40), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    content_type: Mapped[str] = mapped_column(String(40), default="")
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    etag: Mapped[str] = mapped_column(String(80), default="")
    width: Mapped[int] = mapped_column(Integer, default=0)
    height: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ready_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class TransformCharge(Base):
    """Units charged for one recipe of one file in one month: the row's existence is what keeps
    a second request for the same variant in the same month from being counted again."""

    __tablename__ = "transform_charges"

    account_id: Mapped[str] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    file_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    recipe: Mapped[str] = mapped_column(String(100), primary_key=True)
    units: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class IdempotencyKey(Base):
    """The first response to a POST sent with an ``Idempotency-Key``, replayed to its retries.

    ``scope`` is the hash of the API key the request carried (keys never repeat across keys);
    ``status`` is null while the first request is still being served."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("scope", "key", name="uq_idempotency_keys_scope_key"),)

    pk: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    scope: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))
    status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    content_type: Mapped[str | None] = mapped_column(String(255), nullable=True)
    body: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
