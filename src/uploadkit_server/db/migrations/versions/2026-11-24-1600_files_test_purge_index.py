"""Index for the test-mode purge: test files by age, without scanning every file.

Revision ID: 5c1e0d7a9f21
Revises: b1dfbf910721
Create Date: 2026-11-24 16:00:00
"""

from __future__ import annotations

from alembic import op

revision = "5c1e0d7a9f21"
down_revision = "b1dfbf910721"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_files_test_purge", "files", ["is_test", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_files_test_purge", table_name="files")
