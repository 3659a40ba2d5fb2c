"""Reading ticket state back from the PSAs: when each ticket was last read, how each connector's polls go.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28

Frozen: describes the schema as of this revision; must not import the models.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("service_requests", sa.Column("synced_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "ticket_connector_polls",
        sa.Column("connector", sa.String(length=63), nullable=False),
        sa.Column("next_poll_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_poll_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failures", sa.Integer(), server_default="0", nullable=False),
        sa.Column("failed_polls", sa.Integer(), server_default="0", nullable=False),
        sa.Column("resolved", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text(), server_default="", nullable=False),
        sa.PrimaryKeyConstraint("connector", name=op.f("pk_ticket_connector_polls")),
    )


def downgrade() -> None:
    op.drop_table("ticket_connector_polls")
    with op.batch_alter_table("service_requests") as batch:
        batch.drop_column("synced_at")
