"""Client tokens for browser uploads; a password hash on accounts for the dashboard.

Revision ID: d541f0c0d747
Revises: 7d3a9c2e4b18
Create Date: 2026-12-02 13:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "d541f0c0d747"
down_revision = "7d3a9c2e4b18"
branch_labels = None
depends_on = None

_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("password_hash", sa.String(length=255), nullable=True))

    op.create_table(
        "client_tokens",
        sa.Column("pk", _PK, autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("api_key_id", sa.String(length=40), nullable=True),
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("project_id", sa.String(length=40), nullable=False),
        sa.Column("is_test", sa.Boolean(), nullable=False),
        sa.Column("route_slug", sa.String(length=100), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=True),
        sa.Column("max_file_count", sa.Integer(), nullable=False),
        sa.Column("max_file_size", sa.BigInteger(), nullable=True),
        sa.Column("uploads_started", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["api_key_id"], ["api_keys.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("pk"),
        sa.UniqueConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_client_tokens_expires_at", "client_tokens", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_client_tokens_expires_at", table_name="client_tokens")
    op.drop_table("client_tokens")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("password_hash")
