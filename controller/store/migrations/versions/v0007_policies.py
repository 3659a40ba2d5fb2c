"""Policy automation: the applied revision's policies and scripts, assignments, group members,
per-agent compliance, execution history and run-now requests.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27

Frozen: describes the schema as of this revision; must not import the models.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "automation_policies",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("client", sa.String(length=63), nullable=True),
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("every", sa.String(length=8), nullable=False),
        sa.Column("template", sa.String(length=63), nullable=True),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(length=1024), nullable=False),
        sa.Column("revision", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_automation_policies")),
    )
    op.create_table(
        "automation_scripts",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("client", sa.String(length=63), nullable=True),
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("shell", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=63), nullable=False),
        sa.Column("os", sa.JSON(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("file", sa.String(length=500), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(length=1024), nullable=False),
        sa.Column("revision", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_automation_scripts")),
    )
    op.create_index(op.f("ix_automation_scripts_category"), "automation_scripts", ["category"], unique=False)
    op.create_table(
        "device_group_members",
        sa.Column("group_id", sa.String(length=128), nullable=False),
        sa.Column("agent_id", sa.String(length=34), nullable=False),
        sa.Column("client", sa.String(length=63), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_device_group_members_agent_id_agents"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("group_id", "agent_id", name=op.f("pk_device_group_members")),
    )
    op.create_index(op.f("ix_device_group_members_agent_id"), "device_group_members", ["agent_id"], unique=False)
    op.create_index(
        op.f("ix_device_group_members_client_group_id"), "device_group_members", ["client", "group_id"], unique=False
    )
    op.create_table(
        "policy_assignments",
        sa.Column("policy_id", sa.String(length=128), nullable=False),
        sa.Column("agent_id", sa.String(length=34), nullable=False),
        sa.Column("client", sa.String(length=63), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_policy_assignments_agent_id_agents"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("policy_id", "agent_id", name=op.f("pk_policy_assignments")),
    )
    op.create_index(op.f("ix_policy_assignments_agent_id"), "policy_assignments", ["agent_id"], unique=False)
    op.create_index(
        op.f("ix_policy_assignments_client_policy_id"), "policy_assignments", ["client", "policy_id"], unique=False
    )
    op.create_table(
        "policy_compliance",
        sa.Column("agent_id", sa.String(length=34), nullable=False),
        sa.Column("policy_id", sa.String(length=128), nullable=False),
        sa.Column("client", sa.String(length=63), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("failing", sa.JSON(), nullable=False),
        sa.Column("history_id", _ID, nullable=False),
        sa.CheckConstraint(
            "status IN ('compliant', 'non_compliant', 'error', 'not_applicable')",
            name=op.f("ck_policy_compliance_status"),
        ),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_policy_compliance_agent_id_agents"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("agent_id", "policy_id", name=op.f("pk_policy_compliance")),
    )
    op.create_index(
        op.f("ix_policy_compliance_client_policy_id_status"),
        "policy_compliance",
        ["client", "policy_id", "status"],
        unique=False,
    )
    op.create_table(
        "policy_execution_history",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("result_id", sa.String(length=64), nullable=False),
        sa.Column("agent_id", sa.String(length=34), nullable=False),
        sa.Column("client", sa.String(length=63), nullable=False),
        sa.Column("policy_id", sa.String(length=128), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("run_request", sa.String(length=64), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("checks", sa.JSON(), nullable=False),
        sa.CheckConstraint(
            "status IN ('compliant', 'non_compliant', 'error', 'not_applicable')",
            name=op.f("ck_policy_execution_history_status"),
        ),
        sa.CheckConstraint(
            "trigger IN ('schedule', 'start', 'bundle', 'alert', 'inventory', 'job', 'run_now')",
            name=op.f("ck_policy_execution_history_trigger"),
        ),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_policy_execution_history_agent_id_agents"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_execution_history")),
        sa.UniqueConstraint("agent_id", "result_id", name=op.f("uq_policy_execution_history_agent_id_result_id")),
    )
    op.create_index(
        op.f("ix_policy_execution_history_agent_id_policy_id_id"),
        "policy_execution_history",
        ["agent_id", "policy_id", "id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_policy_execution_history_policy_id_id"), "policy_execution_history", ["policy_id", "id"], unique=False
    )
    op.create_table(
        "policy_run_requests",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("agent_id", sa.String(length=34), nullable=False),
        sa.Column("policy_id", sa.String(length=128), nullable=False),
        sa.Column("client", sa.String(length=63), nullable=False),
        sa.Column("requested_by", sa.String(length=253), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_policy_run_requests_agent_id_agents"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", "agent_id", name=op.f("pk_policy_run_requests")),
    )
    op.create_index(
        op.f("ix_policy_run_requests_done_at_agent_id"), "policy_run_requests", ["done_at", "agent_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_policy_run_requests_done_at_agent_id"), table_name="policy_run_requests")
    op.drop_table("policy_run_requests")
    op.drop_index(op.f("ix_policy_execution_history_policy_id_id"), table_name="policy_execution_history")
    op.drop_index(op.f("ix_policy_execution_history_agent_id_policy_id_id"), table_name="policy_execution_history")
    op.drop_table("policy_execution_history")
    op.drop_index(op.f("ix_policy_compliance_client_policy_id_status"), table_name="policy_compliance")
    op.drop_table("policy_compliance")
    op.drop_index(op.f("ix_policy_assignments_client_policy_id"), table_name="policy_assignments")
    op.drop_index(op.f("ix_policy_assignments_agent_id"), table_name="policy_assignments")
    op.drop_table("policy_assignments")
    op.drop_index(op.f("ix_device_group_members_client_group_id"), table_name="device_group_members")
    op.drop_index(op.f("ix_device_group_members_agent_id"), table_name="device_group_members")
    op.drop_table("device_group_members")
    op.drop_index(op.f("ix_automation_scripts_category"), table_name="automation_scripts")
    op.drop_table("automation_scripts")
    op.drop_table("automation_policies")
