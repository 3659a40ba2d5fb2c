"""Indexes for the ticket worker: alerts by change time and by ticket.

The worker's periodic pass reads the alerts changed since its last scan (``updated_at``, then
``id``), and resolving a ticket asks whether other alerts on it are still open
(``service_request_id``); without these both scanned the whole alert history, which a storm of
10,000 alerts made a full scan per pass and per resolve. The open-ticket lookup needs no new
index: it asks by (client, open_key), the unique constraint's index.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-27

Frozen: describes the schema as of this revision; must not import the models.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(op.f("ix_agent_alert_history_updated_at_id"), "agent_alert_history", ["updated_at", "id"],
                    unique=False)
    op.create_index(op.f("ix_agent_alert_history_service_request_id"), "agent_alert_history",
                    ["service_request_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_agent_alert_history_service_request_id"), table_name="agent_alert_history")
    op.drop_index(op.f("ix_agent_alert_history_updated_at_id"), table_name="agent_alert_history")
