"""Initial schema: agents and tokens, inventory, jobs and their events, revisions and the
applied revision's projection, per-device deployment outcomes, the audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-27

Frozen: this file describes the schema as of this revision and must not import the
models. Timestamps are ``DateTime(timezone=True)`` (the models wrap it in
``UtcDateTime``, which changes nothing in the database).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _utc(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _string(name: str, length: int, *, nullable: bool = False,
            default: str | None = None) -> sa.Column[object]:
    return sa.Column(name, sa.String(length=length), nullable=nullable, server_default=default)


def _text(name: str, *, default: str | None = "") -> sa.Column[object]:
    return sa.Column(name, sa.Text(), nullable=False, server_default=default)


def _json(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.JSON(), nullable=nullable)


def _int(name: str, *, nullable: bool = False, default: str | None = None) -> sa.Column[object]:
    return sa.Column(name, sa.Integer(), nullable=nullable, server_default=default)


def _log_id() -> sa.Column[object]:
    # SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL logs get 64 bits.
    return sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True,
                     nullable=False)


def _agent_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["agent_id"], ["agents.id"], name=f"fk_{table}_agent_id_agents",
                                   ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "agents",
        _string("id", 34), _string("client", 63), _string("hostname", 253),
        _json("labels"), _json("facts"), _string("credential_hash", 64),
        _utc("enrolled_at"), _utc("last_seen_at"),
        _int("last_job_seq", default="0"), _string("inventory_wanted", 8, default="full"),
        _json("inventory_hashes"), _utc("revoked_at", nullable=True),
        _string("enrolment_token_id", 18, nullable=True),
        sa.CheckConstraint("inventory_wanted IN ('none', 'changed', 'full')",
                           name="ck_agents_inventory_wanted"),
        sa.PrimaryKeyConstraint("id", name="pk_agents"),
    )
    op.create_index("ix_agents_client", "agents", ["client"])

    op.create_table(
        "enrollment_tokens",
        _string("id", 18), _string("client", 63), _string("secret_hash", 64),
        _utc("created_at"), _string("created_by", 253),
        _utc("expires_at", nullable=True), _utc("revoked_at", nullable=True),
        _int("max_uses", nullable=True), _int("uses", default="0"),
        sa.PrimaryKeyConstraint("id", name="pk_enrollment_tokens"),
    )
    op.create_index("ix_enrollment_tokens_client", "enrollment_tokens", ["client"])

    op.create_table(
        "api_tokens",
        _string("id", 18), _string("name", 253), _string("role", 16),
        _string("client", 63, nullable=True), _string("secret_hash", 64),
        _utc("created_at"), _utc("expires_at", nullable=True), _utc("revoked_at", nullable=True),
        _utc("last_used_at", nullable=True),
        sa.CheckConstraint("role IN ('viewer', 'operator', 'admin')", name="ck_api_tokens_role"),
        sa.PrimaryKeyConstraint("id", name="pk_api_tokens"),
    )

    op.create_table(
        "asset_software_inventory",
        _log_id(), _string("agent_id", 34), _string("client", 63),
        _string("name", 500), _string("version", 200), _string("source", 16),
        _string("arch", 50), _string("publisher", 500), _utc("updated_at"),
        _agent_fk("asset_software_inventory"),
        sa.PrimaryKeyConstraint("id", name="pk_asset_software_inventory"),
    )
    op.create_index("ix_asset_software_inventory_agent_id", "asset_software_inventory", ["agent_id"])
    op.create_index("ix_asset_software_inventory_client_name", "asset_software_inventory", ["client", "name"])

    op.create_table(
        "managed_software",
        _string("agent_id", 34), _string("package", 63), _string("client", 63),
        _string("version", 64), _string("sha256", 64),
        _utc("installed_at", nullable=True), _utc("reported_at"),
        _agent_fk("managed_software"),
        sa.PrimaryKeyConstraint("agent_id", "package", name="pk_managed_software"),
    )

    op.create_table(
        "jobs",
        _string("id", 34), _string("agent_id", 34), _string("client", 63), _int("seq"),
        _string("kind", 16), _string("action", 16), _string("package", 63), _string("version", 64),
        _string("previous_version", 64, nullable=True), _string("deployment", 128),
        _string("revision", 64), _json("installer"), _string("state", 16),
        _int("deliveries", default="0"),
        _utc("created_at"), _utc("expires_at"), _utc("leased_until", nullable=True),
        _utc("updated_at"), _utc("finished_at", nullable=True),
        _text("reason"), _text("output"),
        sa.CheckConstraint(
            "state IN ('queued', 'leased', 'running', 'succeeded', 'failed', 'refused', 'cancelled', "
            "'expired')", name="ck_jobs_state"),
        _agent_fk("jobs"),
        sa.PrimaryKeyConstraint("id", name="pk_jobs"),
        sa.UniqueConstraint("agent_id", "seq", name="uq_jobs_agent_id_seq"),
    )
    op.create_index("ix_jobs_agent_id_state", "jobs", ["agent_id", "state"])
    op.create_index("ix_jobs_client_state", "jobs", ["client", "state"])
    op.create_index("ix_jobs_deployment", "jobs", ["deployment"])
    op.create_index("ix_jobs_state_finished_at", "jobs", ["state", "finished_at"])

    op.create_table(
        "job_events",
        _log_id(), _string("job_id", 34), _string("agent_id", 34), _string("client", 63),
        _utc("at"), _string("status", 16), _text("reason"), _text("message"),
        _json("data", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_job_events"),
    )
    op.create_index("ix_job_events_job_id", "job_events", ["job_id"])

    op.create_table(
        "revisions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        _string("sha", 64), _string("branch", 253), _string("state", 16), _json("problems"),
        _string("author", 500), _string("summary", 500), _utc("committed_at", nullable=True),
        _utc("seen_at"), _utc("applied_at", nullable=True),
        sa.CheckConstraint("state IN ('applied', 'rejected')", name="ck_revisions_state"),
        sa.PrimaryKeyConstraint("id", name="pk_revisions"),
    )
    op.create_index("ix_revisions_sha", "revisions", ["sha"])

    op.create_table(
        "software_packages",
        _string("id", 128), _string("client", 63, nullable=True), _string("name", 63),
        _string("version", 64), _json("spec"), _string("source", 1024), _string("revision", 64),
        sa.PrimaryKeyConstraint("id", name="pk_software_packages"),
    )
    op.create_table(
        "package_deployments",
        _string("id", 128), _string("client", 63, nullable=True), _string("name", 63),
        _string("package", 63), _string("ensure", 8), _json("spec"), _string("source", 1024),
        _string("revision", 64),
        sa.PrimaryKeyConstraint("id", name="pk_package_deployments"),
    )

    op.create_table(
        "deployment_targets",
        _string("deployment", 128), _string("agent_id", 34), _string("client", 63),
        _string("hostname", 253), _string("package", 63), _string("ensure", 8), _string("version", 64),
        _string("state", 16), _text("reason", default=None),
        _string("installed_version", 64, nullable=True), _string("action", 16, nullable=True),
        _utc("updated_at"),
        _agent_fk("deployment_targets"),
        sa.PrimaryKeyConstraint("deployment", "agent_id", name="pk_deployment_targets"),
    )
    op.create_index("ix_deployment_targets_agent_id", "deployment_targets", ["agent_id"])
    op.create_index("ix_deployment_targets_client", "deployment_targets", ["client"])

    op.create_table(
        "audit_log",
        _log_id(), _utc("at"), _string("actor", 253), _string("actor_kind", 16),
        _string("client", 63, nullable=True), _string("action", 100), _string("target", 500),
        _json("detail", nullable=True),
        sa.CheckConstraint("actor_kind IN ('api-token', 'agent', 'commit', 'cli', 'system')",
                           name="ck_audit_log_actor_kind"),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_client_id", "audit_log", ["client", "id"])


def downgrade() -> None:
    for table in ("audit_log", "deployment_targets", "package_deployments", "software_packages",
                  "revisions", "job_events", "jobs", "managed_software", "asset_software_inventory",
                  "api_tokens", "enrollment_tokens", "agents"):
        op.drop_table(table)
