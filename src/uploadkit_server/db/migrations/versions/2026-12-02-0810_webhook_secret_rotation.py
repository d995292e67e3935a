"""Webhook secret rotation (the previous secret and the end of its grace period) and an index
for the retention purge of finished deliveries.

Revision ID: 7d3a9c2e4b18
Revises: 5c1e0d7a9f21
Create Date: 2026-12-02 08:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "7d3a9c2e4b18"
down_revision = "7e3a9c41d2b8"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "projects", sa.Column("previous_webhook_secret", sa.String(length=100), nullable=True)
    )
    op.add_column(
        "projects",
        sa.Column("previous_webhook_secret_expires_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index(
        "ix_webhook_deliveries_finished", "webhook_deliveries", ["status", "updated_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_webhook_deliveries_finished", table_name="webhook_deliveries")
    with op.batch_alter_table("projects") as batch:
        batch.drop_column("previous_webhook_secret_expires_at")
        batch.drop_column("previous_webhook_secret")
