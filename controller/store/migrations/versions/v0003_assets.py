"""Asset management: hardware, licence keys, licences and compliance, warranties, network devices,
inventory history, and alerts (raised by agents and by the controller).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27

Frozen: describes the schema as of this revision; must not import the models.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "agent_alert_history",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("client", sa.String(length=63), nullable=False),
        sa.Column("agent_id", sa.String(length=34), nullable=True),
        sa.Column("type", sa.String(length=100), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=500), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cleared_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("service_request_id", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_alert_history")),
    )
    op.create_index(
        op.f("ix_agent_alert_history_client_state"), "agent_alert_history", ["client", "state"], unique=False
    )
    op.create_index(op.f("ix_agent_alert_history_key_state"), "agent_alert_history", ["key", "state"], unique=False)
    op.create_table(
        "asset_licenses",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("client", sa.String(length=63), nullable=True),
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("product", sa.String(length=200), nullable=False),
        sa.Column("vendor", sa.String(length=200), nullable=False),
        sa.Column("seats", sa.Integer(), nullable=False),
        sa.Column("seats_used", sa.Integer(), nullable=False),
        sa.Column("expires", sa.Date(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(length=1024), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_asset_licenses")),
    )
    op.create_index(op.f("ix_asset_licenses_client"), "asset_licenses", ["client"], unique=False)
    op.create_table(
        "asset_network_devices",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("client", sa.String(length=63), nullable=False),
        sa.Column("ip", sa.String(length=60), nullable=False),
        sa.Column("mac", sa.String(length=40), nullable=False),
        sa.Column("hostname", sa.String(length=500), nullable=False),
        sa.Column("vendor", sa.String(length=500), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("open_ports", sa.JSON(), nullable=False),
        sa.Column("seen_by", sa.String(length=34), nullable=False),
        sa.Column("managed_agent_id", sa.String(length=34), nullable=True),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_asset_network_devices")),
        sa.UniqueConstraint("client", "ip", "mac", name=op.f("uq_asset_network_devices_client_ip_mac")),
    )
    op.create_index(op.f("ix_asset_network_devices_client"), "asset_network_devices", ["client"], unique=False)
    op.create_table(
        "asset_warranties",
        sa.Column("serial", sa.String(length=100), nullable=False),
        sa.Column("vendor", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("model", sa.String(length=500), nullable=False),
        sa.Column("start", sa.Date(), nullable=True),
        sa.Column("end", sa.Date(), nullable=True),
        sa.Column("service_level", sa.String(length=500), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("fresh_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), server_default="", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("serial", name=op.f("pk_asset_warranties")),
    )
    op.create_table(
        "asset_hardware_inventory",
        sa.Column("agent_id", sa.String(length=34), nullable=False),
        sa.Column("client", sa.String(length=63), nullable=False),
        sa.Column("manufacturer", sa.String(length=500), nullable=False),
        sa.Column("model", sa.String(length=500), nullable=False),
        sa.Column("serial", sa.String(length=500), nullable=False),
        sa.Column("cpu_model", sa.String(length=500), nullable=False),
        sa.Column("cpu_cores", sa.Integer(), nullable=False),
        sa.Column("memory_bytes", sa.BigInteger(), nullable=False),
        sa.Column("disk_bytes", sa.BigInteger(), nullable=False),
        sa.Column("os_name", sa.String(length=500), nullable=False),
        sa.Column("os_version", sa.String(length=500), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_asset_hardware_inventory_agent_id_agents"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("agent_id", name=op.f("pk_asset_hardware_inventory")),
    )
    op.create_index(op.f("ix_asset_hardware_inventory_client"), "asset_hardware_inventory", ["client"], unique=False)
    op.create_index(op.f("ix_asset_hardware_inventory_serial"), "asset_hardware_inventory", ["serial"], unique=False)
    op.create_table(
        "asset_software_sections",
        sa.Column("agent_id", sa.String(length=34), nullable=False),
        sa.Column("entries", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_asset_software_sections_agent_id_agents"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("agent_id", name=op.f("pk_asset_software_sections")),
    )
    op.create_table(
        "asset_history",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("agent_id", sa.String(length=34), nullable=False),
        sa.Column("client", sa.String(length=63), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("section", sa.String(length=16), nullable=False),
        sa.Column("change", sa.String(length=16), nullable=False),
        sa.Column("item", sa.String(length=500), nullable=False),
        sa.Column("old", sa.Text(), nullable=True),
        sa.Column("new", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_asset_history_agent_id_agents"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_asset_history")),
    )
    op.create_index(op.f("ix_asset_history_agent_id_id"), "asset_history", ["agent_id", "id"], unique=False)
    op.create_index(op.f("ix_asset_history_client_id"), "asset_history", ["client", "id"], unique=False)
    op.create_table(
        "asset_license_keys",
        sa.Column("agent_id", sa.String(length=34), nullable=False),
        sa.Column("product", sa.String(length=500), nullable=False),
        sa.Column("client", sa.String(length=63), nullable=False),
        sa.Column("channel", sa.String(length=500), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("partial_key", sa.String(length=10), nullable=False),
        sa.Column("sealed_key", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_asset_license_keys_agent_id_agents"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("agent_id", "product", name=op.f("pk_asset_license_keys")),
    )
    op.create_index(op.f("ix_asset_license_keys_client"), "asset_license_keys", ["client"], unique=False)
    with op.batch_alter_table("asset_software_inventory") as batch:
        batch.add_column(sa.Column("install_date", sa.Date(), nullable=True))
        batch.add_column(sa.Column("name_key", sa.String(length=500), server_default="", nullable=False))
        batch.create_index(batch.f("ix_asset_software_inventory_name_key"), ["name_key", "version", "agent_id"],
                           unique=False)
        # Searches go through name_key now; one index fewer to maintain on every inventory write.
        batch.drop_index("ix_asset_software_inventory_client_name")


def downgrade() -> None:
    with op.batch_alter_table("asset_software_inventory") as batch:
        batch.drop_index(batch.f("ix_asset_software_inventory_name_key"))
        batch.create_index("ix_asset_software_inventory_client_name", ["client", "name"], unique=False)
        batch.drop_column("name_key")
        batch.drop_column("install_date")
    for table in (
        "asset_license_keys",
        "asset_history",
        "asset_software_sections",
        "asset_hardware_inventory",
        "asset_warranties",
        "asset_network_devices",
        "asset_licenses",
        "agent_alert_history",
    ):
        op.drop_table(table)
