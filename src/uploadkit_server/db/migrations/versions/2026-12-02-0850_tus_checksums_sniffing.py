"""Resumable (tus) uploads; a server-computed SHA-256 and the sniffed type on files; the route's
``typeCheck`` option.

Revision ID: 7e3a9c41d2b8
Revises: 5c1e0d7a9f21
Create Date: 2026-12-02 08:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "7e3a9c41d2b8"
down_revision = "7d2a9c4e1b08"
branch_labels = None
depends_on = None

_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("file_routes", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("type_check", sa.String(length=16), nullable=False, server_default="lenient")
        )
    with op.batch_alter_table("files", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sha256", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("detected_type", sa.String(length=255), nullable=True))

    op.create_table(
        "tus_uploads",
        sa.Column("pk", _PK, autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("project_id", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("is_test", sa.Boolean(), nullable=False),
        sa.Column("file_id", sa.String(length=40), nullable=True),
        sa.Column("route_slug", sa.String(length=100), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=255), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("raw_metadata", sa.Text(), nullable=True),
        sa.Column("upload_length", sa.BigInteger(), nullable=True),
        sa.Column("upload_offset", sa.BigInteger(), nullable=False),
        sa.Column("key", sa.String(length=1024), nullable=False),
        sa.Column("store_ref", sa.Text(), nullable=False),
        sa.Column("storage_upload_id", sa.String(length=1024), nullable=True),
        sa.Column("lock_token", sa.String(length=40), nullable=True),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_tus_uploads_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["file_id"], ["files.id"], name=op.f("fk_tus_uploads_file_id_files"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_tus_uploads_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_tus_uploads")),
        sa.UniqueConstraint("id", name=op.f("uq_tus_uploads_id")),
    )
    with op.batch_alter_table("tus_uploads", schema=None) as batch_op:
        batch_op.create_index("ix_tus_uploads_expiry", ["completed_at", "expires_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_tus_uploads_project_id"), ["project_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tus_uploads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tus_uploads_project_id"))
        batch_op.drop_index("ix_tus_uploads_expiry")
    op.drop_table("tus_uploads")
    with op.batch_alter_table("files", schema=None) as batch_op:
        batch_op.drop_column("detected_type")
        batch_op.drop_column("sha256")
    with op.batch_alter_table("file_routes", schema=None) as batch_op:
        batch_op.drop_column("type_check")
