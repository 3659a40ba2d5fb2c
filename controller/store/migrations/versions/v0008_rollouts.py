"""Rollouts: deployment_rollouts, deployment_history, deployment_schedules; window bounds on jobs; waves.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27

Frozen: describes the schema as of this revision; must not import the models.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_ACTOR_KINDS = "actor_kind IN ('api-token', 'agent', 'commit', 'cli', 'system')"


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("not_before", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("not_after", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("deployment_targets") as batch:
        batch.add_column(sa.Column("wave", sa.Integer(), nullable=True))
    op.create_table(
        "deployment_rollouts",
        sa.Column("deployment", sa.String(length=128), nullable=False),
        sa.Column("client", sa.String(length=63), nullable=True),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("revision", sa.String(length=64), nullable=False),
        sa.Column("wave", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.JSON(), nullable=False),
        sa.Column("cutoffs", sa.JSON(), nullable=False),
        sa.Column("met_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("halted", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), server_default="", nullable=False),
        sa.Column("rolled_back_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed", sa.Boolean(), nullable=False),
        sa.Column("waves", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("deployment", name=op.f("pk_deployment_rollouts")),
    )
    op.create_table(
        "deployment_history",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("deployment", sa.String(length=128), nullable=False),
        sa.Column("client", sa.String(length=63), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=253), nullable=False),
        sa.Column("actor_kind", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("wave", sa.Integer(), nullable=True),
        sa.Column("detail", sa.Text(), server_default="", nullable=False),
        sa.Column("revision", sa.String(length=64), nullable=True),
        sa.CheckConstraint(_ACTOR_KINDS, name=op.f("ck_deployment_history_actor_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deployment_history")),
    )
    op.create_index(op.f("ix_deployment_history_deployment_id"), "deployment_history", ["deployment", "id"],
                    unique=False)
    op.create_table(
        "deployment_schedules",
        sa.Column("id", sa.String(length=140), nullable=False),
        sa.Column("client", sa.String(length=63), nullable=True),
        sa.Column("deployment", sa.String(length=128), nullable=True),
        sa.Column("cron", sa.String(length=200), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=True),
        sa.Column("revision", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deployment_schedules")),
    )


def downgrade() -> None:
    op.drop_table("deployment_schedules")
    op.drop_index(op.f("ix_deployment_history_deployment_id"), table_name="deployment_history")
    op.drop_table("deployment_history")
    op.drop_table("deployment_rollouts")
    with op.batch_alter_table("deployment_targets") as batch:
        batch.drop_column("wave")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("not_after")
        batch.drop_column("not_before")
