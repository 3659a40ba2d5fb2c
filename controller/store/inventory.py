"""What agents report about their machines: facts, software, receipts, hardware, licence keys, network.

An inventory report carries only the sections that changed since the hashes the
controller last accepted; each section it carries replaces the stored one, written
as the difference from what is stored (:mod:`controller.store.asset_ingesting`), with
the changes recorded in ``asset_history``, all in one transaction. The report's hashes of the sections
it left out are compared with the stored ones: a mismatch means the controller's
copy is stale (a restore from backup, a lost write), so the agent is asked for a
full report at its next check-in.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import delete, insert, select, text, update

from controller.errors import NotFound
from controller.store.agents import AgentPrincipal
from controller.store.asset_ingesting import (
    Sealer,
    write_hardware,
    write_history,
    write_license_keys,
    write_network,
    write_software,
)
from controller.store.engine import Store
from controller.store.inventory_changes import InventoryChange
from controller.store.tables import agents, managed_software, software_inventory
from schemas.protocol import InventoryReport, InventorySection

SECTIONS: tuple[InventorySection, ...] = ("facts", "software", "managed", "hardware", "licenses", "network")


class InstalledSoftware(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    version: str
    source: str
    arch: str
    publisher: str
    updated_at: datetime


class ManagedPackage(BaseModel):
    model_config = ConfigDict(frozen=True)

    package: str
    version: str
    sha256: str
    installed_at: datetime | None
    reported_at: datetime


def ingest_inventory(store: Store, agent: AgentPrincipal, report: InventoryReport, now: datetime,
                     *, seal: Sealer | None = None) -> list[InventorySection]:
    """Store the sections ``report`` carries and the history of what they changed; returns
    their names (the agent keeps those hashes). ``seal`` seals licence keys before storage."""
    agent_id, client = agent.agent_id, agent.client
    accepted: list[InventorySection] = []
    changes: list[InventoryChange] = []
    with store.write() as session:
        if session.get_bind().dialect.name == "postgresql":
            # Only a PostgreSQL server crash can lose an acknowledged asynchronous commit (the last
            # few hundred milliseconds). Inventory is observation the agent sends again: at the latest
            # its daily full report restores it. So this transaction does not wait for the WAL flush,
            # which on a busy disk is most of its time.
            session.execute(text("SET LOCAL synchronous_commit TO OFF"))
        stored = session.execute(
            select(agents.c.inventory_hashes).where(agents.c.id == agent_id)).scalar_one()
        hashes: dict[str, Any] = dict(stored or {})
        values: dict[str, Any] = {}
        if report.facts is not None:
            values.update(facts=report.facts.model_dump(mode="json"), hostname=report.facts.hostname)
            accepted.append("facts")
        if report.software is not None:
            changes += write_software(session, agent_id, client, report.software, now,
                                      baseline="software" not in hashes)
            accepted.append("software")
        if report.managed is not None:
            _write_managed(session, agent_id, client, report, now)
            accepted.append("managed")
        if report.hardware is not None:
            changes += write_hardware(session, agent_id, client, report.hardware, now)
            accepted.append("hardware")
        if report.licenses is not None:
            changes += write_license_keys(session, agent_id, client, report.licenses, now, seal)
            accepted.append("licenses")
        if report.network is not None:
            write_network(session, agent_id, client, report.network, now)
            accepted.append("network")
        write_history(session, agent_id, client, changes, now)
        stale = False
        for section in SECTIONS:
            reported = report.hashes.get(section)
            if section in accepted:
                if reported is not None:
                    hashes[section] = reported[:128]
                else:
                    hashes.pop(section, None)
            elif reported is not None and hashes.get(section) != reported:
                stale = True
        values.update(inventory_hashes=hashes, inventory_wanted="full" if stale else "none")
        session.execute(update(agents).where(agents.c.id == agent_id).values(values))
    return accepted


def _write_managed(session: Any, agent_id: str, client: str, report: InventoryReport, now: datetime) -> None:
    session.execute(delete(managed_software).where(managed_software.c.agent_id == agent_id))
    # The last receipt for a package wins if an agent ever sends two.
    by_package = {item.package: item for item in report.managed or ()}
    rows = [{"agent_id": agent_id, "package": item.package, "client": client, "version": item.version,
             "sha256": item.sha256, "installed_at": item.installed_at, "reported_at": now}
            for item in by_package.values()]
    if rows:
        session.execute(insert(managed_software), rows)


def _visible_agent(session: Any, agent_id: str, client: str | None) -> None:
    statement = select(agents.c.id).where(agents.c.id == agent_id)
    if client is not None:
        statement = statement.where(agents.c.client == client)
    if session.execute(statement).first() is None:
        raise NotFound(f"agent {agent_id} does not exist", hint="list agents with GET /api/agents")


def list_software(store: Store, agent_id: str, client: str | None) -> list[InstalledSoftware]:
    """The agent's last reported software inventory, by name."""
    table = software_inventory.c
    with store.read() as session:
        _visible_agent(session, agent_id, client)
        rows = session.execute(
            select(table.name, table.version, table.source, table.arch, table.publisher, table.updated_at)
            .where(table.agent_id == agent_id).order_by(table.name, table.version)).mappings().all()
    return [InstalledSoftware.model_validate(dict(row)) for row in rows]


def list_managed(store: Store, agent_id: str, client: str | None) -> list[ManagedPackage]:
    """Packages Fleetward installed on the agent, from its receipts, by package."""
    table = managed_software.c
    with store.read() as session:
        _visible_agent(session, agent_id, client)
        rows = session.execute(
            select(table.package, table.version, table.sha256, table.installed_at, table.reported_at)
            .where(table.agent_id == agent_id).order_by(table.package)).mappings().all()
    return [ManagedPackage.model_validate(dict(row)) for row in rows]
