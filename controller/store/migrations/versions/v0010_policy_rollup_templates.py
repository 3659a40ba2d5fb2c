"""Compliance roll-up from one table (policy_assignments.status); policy_templates; script_categories.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27

Frozen: describes the schema as of this revision; must not import the models.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STATUSES = "status IN ('compliant', 'non_compliant', 'error', 'not_applicable')"


def upgrade() -> None:
    op.create_table(
        "script_categories",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("client", sa.String(length=63), nullable=True),
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("scripts", sa.Integer(), nullable=False),
        sa.Column("os", sa.JSON(), nullable=False),
        sa.Column("revision", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_script_categories")),
    )
    op.create_table(
        "policy_templates",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("client", sa.String(length=63), nullable=True),
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("category", sa.String(length=63), nullable=False),
        sa.Column("os", sa.JSON(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(length=1024), nullable=False),
        sa.Column("revision", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_templates")),
    )
    op.create_index(op.f("ix_policy_templates_category"), "policy_templates", ["category"], unique=False)
    with op.batch_alter_table("policy_assignments") as batch:
        batch.drop_index(batch.f("ix_policy_assignments_agent_id"))
        batch.drop_index(batch.f("ix_policy_assignments_client_policy_id"))
        batch.add_column(sa.Column("status", sa.String(length=16), nullable=True))
        batch.create_check_constraint(batch.f("ck_policy_assignments_status"), _STATUSES)
        batch.create_index(batch.f("ix_policy_assignments_agent_id_status"), ["agent_id", "status"], unique=False)
        batch.create_index(batch.f("ix_policy_assignments_client_policy_id_status"),
                           ["client", "policy_id", "status"], unique=False)
    # Existing results count from now on: each assignment takes its agent's current result for its version.
    op.execute(
        "UPDATE policy_assignments SET status = (SELECT c.status FROM policy_compliance c"
        " WHERE c.agent_id = policy_assignments.agent_id AND c.policy_id = policy_assignments.policy_id"
        " AND c.version = policy_assignments.version)")


def downgrade() -> None:
    with op.batch_alter_table("policy_assignments") as batch:
        batch.drop_index(batch.f("ix_policy_assignments_client_policy_id_status"))
        batch.drop_index(batch.f("ix_policy_assignments_agent_id_status"))
        batch.drop_constraint(batch.f("ck_policy_assignments_status"), type_="check")
        batch.drop_column("status")
        batch.create_index(batch.f("ix_policy_assignments_client_policy_id"), ["client", "policy_id"], unique=False)
        batch.create_index(batch.f("ix_policy_assignments_agent_id"), ["agent_id"], unique=False)
    op.drop_index(op.f("ix_policy_templates_category"), table_name="policy_templates")
    op.drop_table("policy_templates")
    op.drop_table("script_categories")
