"""The schema comes from the shipped Alembic migrations, matches the models, and upgrades idempotently."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, insert, inspect, select, text

from controller.store import Store, upgrade
from controller.store.engine import MIGRATIONS
from controller.store.tables import Base, agents, policy_assignments, policy_compliance

TABLES = {
    "agents", "enrollment_tokens", "api_tokens", "asset_software_inventory", "managed_software", "jobs",
    "job_events", "revisions", "software_packages", "package_deployments", "deployment_targets", "audit_log",
    "proposal_plans", "asset_hardware_inventory", "asset_software_sections", "asset_license_keys", "asset_licenses",
    "asset_warranties", "asset_network_devices", "asset_history", "agent_alert_history", "service_requests",
    "service_request_notes", "ticket_outbox", "ticket_connector_polls", "automation_policies", "automation_scripts",
    "policy_assignments", "device_group_members", "policy_compliance", "policy_execution_history",
    "policy_run_requests", "policy_templates", "script_categories",
    "deployment_rollouts", "deployment_history", "deployment_schedules",
}


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_creates_every_table_and_is_idempotent(database_url: str) -> None:
    upgrade(database_url)
    assert _tables(database_url) == TABLES | {"alembic_version"}
    upgrade(database_url)  # a second run finds nothing to do
    engine = create_engine(database_url)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [_head()]
    engine.dispose()


def test_models_match_migrations(database_url: str) -> None:
    upgrade(database_url)
    engine = create_engine(database_url)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert differences == []


def test_store_open_migrates(database_url: str) -> None:
    with Store.open(database_url) as store:
        assert store.dialect in ("sqlite", "postgresql")
    assert _tables(database_url) >= TABLES


def test_sqlite_store_creates_its_folder_and_configures_connections(tmp_path: Path) -> None:
    path = tmp_path / "data" / "nested" / "fleetward.db"
    with Store.open(f"sqlite:///{path}") as store, store.read() as session:
        pragmas = {name: session.execute(text(f"PRAGMA {name}")).scalar_one()
                   for name in ("journal_mode", "foreign_keys", "busy_timeout")}
    assert path.is_file()
    assert pragmas == {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 5000}


def test_compliance_status_migration_counts_the_results_already_stored(database_url: str) -> None:
    """0010 copies each assignment's current result (for its version) onto the assignment row."""
    before = ScriptDirectory.from_config(_config()).get_revision("0010").down_revision
    assert isinstance(before, str)
    engine = create_engine(database_url)
    try:
        with engine.begin() as connection:
            _upgrade(connection, before)
            now = datetime(2026, 11, 27, tzinfo=UTC)
            connection.execute(insert(agents).values(
                id="a_1", client="acme", hostname="pc-1", labels={}, facts={}, credential_hash="x", enrolled_at=now,
                last_seen_at=now, last_job_seq=0, inventory_wanted="none", inventory_hashes={}))
            connection.execute(insert(policy_assignments), [
                {"policy_id": policy, "agent_id": "a_1", "client": "acme", "version": "v2"}
                for policy in ("current", "stale", "silent")])
            connection.execute(insert(policy_compliance), [
                {"agent_id": "a_1", "policy_id": policy, "client": "acme", "version": version, "status": "error",
                 "mode": "audit", "checked_at": now, "failing": [], "history_id": 1}
                for policy, version in (("current", "v2"), ("stale", "v1"))])
        with engine.begin() as connection:
            _upgrade(connection, "head")
            found = dict(connection.execute(select(policy_assignments.c.policy_id, policy_assignments.c.status)).all())
    finally:
        engine.dispose()
    assert found == {"current": "error", "stale": None, "silent": None}


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def _upgrade(connection, revision: str) -> None:
    config = _config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


def _head() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head
