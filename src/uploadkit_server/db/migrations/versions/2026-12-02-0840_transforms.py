"""Image transformations: generated variants (also the generation claim), monthly charges per
recipe, and the monthly unit counter.

Revision ID: 7d2a9c4e1b08
Revises: 5c1e0d7a9f21
Create Date: 2026-12-02 08:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "7d2a9c4e1b08"
down_revision = "5c1e0d7a9f21"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("usage_months") as batch:
        batch.add_column(
            sa.Column("transform_units", sa.Integer(), nullable=False, server_default="0")
        )
    op.create_table(
        "transform_variants",
        sa.Column(
            "pk",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("file_pk", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("recipe", sa.String(length=100), nullable=False),
        sa.Column("object_key", sa.String(length=1100), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("claim_token", sa.String(length=40), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("content_type", sa.String(length=40), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("etag", sa.String(length=80), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ready_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["file_pk"],
            ["files.pk"],
            name=op.f("fk_transform_variants_file_pk_files"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_transform_variants")),
        sa.UniqueConstraint("file_pk", "recipe", name=op.f("uq_transform_variants_file_pk")),
    )
    op.create_index(
        op.f("ix_transform_variants_file_pk"), "transform_variants", ["file_pk"], unique=False
    )
    op.create_table(
        "transform_charges",
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("file_id", sa.String(length=40), nullable=False),
        sa.Column("recipe", sa.String(length=100), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_transform_charges_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "account_id", "month", "file_id", "recipe", name=op.f("pk_transform_charges")
        ),
    )


def downgrade() -> None:
    op.drop_table("transform_charges")
    op.drop_index(op.f("ix_transform_variants_file_pk"), table_name="transform_variants")
    op.drop_table("transform_variants")
    with op.batch_alter_table("usage_months") as batch:
        batch.drop_column("transform_units")
