"""The built-in ticket store: service requests and their notes.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27

Frozen: describes the schema as of this revision; must not import the models.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "service_requests",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("client", sa.String(length=63), nullable=False),
        sa.Column("agent_id", sa.String(length=34), nullable=True),
        sa.Column("source_alert_id", sa.BigInteger(), nullable=True),
        sa.Column("dedup_key", sa.String(length=500), nullable=False),
        sa.Column("open_key", sa.String(length=500), nullable=True),
        sa.Column("title", sa.String(length=250), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("priority", sa.String(length=16), nullable=False),
        sa.Column("board", sa.String(length=200), nullable=True),
        sa.Column("assignee", sa.String(length=200), nullable=True),
        sa.Column("rule", sa.String(length=128), nullable=True),
        sa.Column("created_by", sa.String(length=253), nullable=False),
        sa.Column("render_error", sa.Text(), server_default="", nullable=False),
        sa.Column("escalation_steps", sa.Integer(), server_default="0", nullable=False),
        sa.Column("connector", sa.String(length=63), nullable=True),
        sa.Column("external_id", sa.String(length=200), nullable=True),
        sa.Column("external_url", sa.String(length=1000), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("state IN ('new', 'acknowledged', 'in_progress', 'resolved', 'closed')",
                           name=op.f("ck_service_requests_state")),
        sa.CheckConstraint("priority IN ('low', 'medium', 'high', 'critical')",
                           name=op.f("ck_service_requests_priority")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_requests")),
        sa.UniqueConstraint("client", "open_key", name=op.f("uq_service_requests_client_open_key")),
    )
    op.create_index(op.f("ix_service_requests_client_state"), "service_requests", ["client", "state"], unique=False)
    op.create_table(
        "service_request_notes",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("service_request_id", _ID, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("author", sa.String(length=253), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["service_request_id"], ["service_requests.id"],
                                name=op.f("fk_service_request_notes_service_request_id_service_requests"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_request_notes")),
    )
    op.create_index(op.f("ix_service_request_notes_service_request_id_id"), "service_request_notes",
                    ["service_request_id", "id"], unique=False)


    op.create_table(
        "ticket_outbox",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("service_request_id", _ID, nullable=False),
        sa.Column("connector", sa.String(length=63), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=100), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), server_default="", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["service_request_id"], ["service_requests.id"],
                                name=op.f("fk_ticket_outbox_service_request_id_service_requests"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_outbox")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_ticket_outbox_idempotency_key")),
    )
    op.create_index(op.f("ix_ticket_outbox_service_request_id"), "ticket_outbox", ["service_request_id"], unique=False)
    op.create_index(op.f("ix_ticket_outbox_state_next_attempt_at"), "ticket_outbox", ["state", "next_attempt_at"],
                    unique=False)


def downgrade() -> None:
    op.drop_table("ticket_outbox")
    op.drop_table("service_request_notes")
    op.drop_table("service_requests")
