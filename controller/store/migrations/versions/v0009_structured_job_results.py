"""Structured job results: retry-later delay and requested reboot on jobs.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27

Frozen: describes the schema as of this revision; must not import the models.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("retry_after_seconds", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("reboot", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("reboot")
        batch.drop_column("retry_after_seconds")
