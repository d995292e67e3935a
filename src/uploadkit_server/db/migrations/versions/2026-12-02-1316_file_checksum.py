"""The checksum a client declared for an upload's bytes (``{algorithm}:{base64}``).

Revision ID: d13ac6a4053c
Revises: d541f0c0d747
Create Date: 2026-12-02 13:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "d13ac6a4053c"
down_revision = "d541f0c0d747"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("files", schema=None) as batch_op:
        batch_op.add_column(sa.Column("checksum", sa.String(length=80), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("files", schema=None) as batch_op:
        batch_op.drop_column("checksum")
