"""An index on agents.last_seen_at: the agent-offline check reads only the agents silent past a threshold.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27

Frozen: describes the schema as of this revision; must not import the models.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(op.f("ix_agents_last_seen_at"), "agents", ["last_seen_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_agents_last_seen_at"), table_name="agents")
