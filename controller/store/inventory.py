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

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import bindparam, delete, insert, select, text, update
from sqlalchemy.orm import Session

from controller.errors import NotFound
from controller.store.agents import AgentPrincipal
from controller.store.asset_ingesting import (
    DeviceWrite,
    Sealer,
    SoftwareReport,
    chunks,
    write_hardware,
    write_history,
    write_license_keys,
    write_network,
    write_software,
)
from controller.store.engine import Store
from controller.store.tables import agents, managed_software, software_inventory
from schemas.protocol import InventoryReport, InventorySection, ManagedItem

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


@dataclass(frozen=True)
class InventoryUpload:
    """One report to store: who sent it, what it says, how to seal its licence keys."""

    agent: AgentPrincipal
    report: InventoryReport
    seal: Sealer | None = None


def ingest_inventory(store: Store, agent: AgentPrincipal, report: InventoryReport, now: datetime,
                     *, seal: Sealer | None = None) -> list[InventorySection]:
    """Store the sections ``report`` carries and the history of what they changed; returns
    their names (the agent keeps those hashes). ``seal`` seals licence keys before storage."""
    return ingest_inventories(store, [InventoryUpload(agent, report, seal)], now)[0]


def ingest_inventories(store: Store, uploads: Sequence[InventoryUpload], now: datetime) -> list[list[InventorySection]]:
    """:func:`ingest_inventory` for many reports in one transaction; the accepted sections of each.

    A device may appear more than once (an agent that retried): its reports are applied in
    order, in separate rounds of the same transaction.
    """
    rounds: list[list[int]] = []
    seen_in: dict[str, int] = {}
    for index, upload in enumerate(uploads):
        depth = seen_in.get(upload.agent.agent_id, -1) + 1
        seen_in[upload.agent.agent_id] = depth
        if depth == len(rounds):
            rounds.append([])
        rounds[depth].append(index)
    accepted: list[list[InventorySection]] = [[] for _ in uploads]
    with store.write() as session:
        if session.get_bind().dialect.name == "postgresql":
            # Only a PostgreSQL server crash can lose an acknowledged asynchronous commit (the last
            # few hundred milliseconds). Inventory is observation the agent sends again: at the latest
            # its daily full report restores it. So this transaction does not wait for the WAL flush,
            # which on a busy disk is most of its time.
            session.execute(text("SET LOCAL synchronous_commit TO OFF"))
        for indexes in rounds:
            batch = [uploads[index] for index in indexes]
            for index, sections in zip(indexes, _write_round(session, batch, now), strict=True):
                accepted[index] = sections
    return accepted


def _write_round(session: Session, uploads: Sequence[InventoryUpload], now: datetime) -> list[list[InventorySection]]:
    """Reports of distinct devices: a few statements per section for all of them."""
    stored_hashes: dict[str, dict[str, Any]] = {}
    for ids in chunks([upload.agent.agent_id for upload in uploads]):
        for agent_id, hashes in session.execute(
                select(agents.c.id, agents.c.inventory_hashes).where(agents.c.id.in_(ids))):
            stored_hashes[agent_id] = dict(hashes or {})
    devices = []
    for upload in uploads:
        if upload.agent.agent_id not in stored_hashes:
            raise NotFound(f"agent {upload.agent.agent_id} does not exist")
        hashes = stored_hashes[upload.agent.agent_id]
        devices.append(DeviceWrite(upload.agent.agent_id, upload.agent.client,
                                   baseline={section for section in SECTIONS if section not in hashes}))
    pairs = list(zip(devices, uploads, strict=True))
    software: list[tuple[DeviceWrite, SoftwareReport]] = []
    refused: set[str] = set()
    for device, upload in pairs:
        if upload.report.software is not None:
            software.append((device, upload.report.software))
        elif upload.report.software_delta is not None:
            # A delta applies only to the very section it was computed from; otherwise the
            # software section is not accepted and the agent is asked for a full report.
            if stored_hashes[device.agent_id].get("software") == upload.report.software_delta.base:
                software.append((device, upload.report.software_delta))
            else:
                refused.add(device.agent_id)
    if software:
        refused |= write_software(session, software, now)
    managed = [(device, upload.report.managed) for device, upload in pairs if upload.report.managed is not None]
    if managed:
        _write_managed(session, managed, now)
    hardware = [(device, upload.report.hardware) for device, upload in pairs if upload.report.hardware is not None]
    if hardware:
        write_hardware(session, hardware, now)
    keys = [(device, upload.report.licenses, upload.seal) for device, upload in pairs
            if upload.report.licenses is not None]
    if keys:
        write_license_keys(session, keys, now)
    for device, upload in pairs:
        if upload.report.network is not None:
            write_network(session, device, upload.report.network, now)
    write_history(session, devices, now)

    results: list[list[InventorySection]] = []
    with_facts: list[dict[str, Any]] = []
    without_facts: list[dict[str, Any]] = []
    for device, upload in pairs:
        report = upload.report
        delta_applied = report.software_delta is not None and device.agent_id not in refused
        sections: list[InventorySection] = [
            section for section in SECTIONS
            if getattr(report, section) is not None or (section == "software" and delta_applied)]
        hashes = stored_hashes[device.agent_id]
        stale = False
        for section in SECTIONS:
            reported = report.hashes.get(section)
            if section in sections:
                if reported is not None:
                    hashes[section] = reported[:128]
                else:
                    hashes.pop(section, None)
            elif reported is not None and hashes.get(section) != reported:
                stale = True
        values = {"device": device.agent_id, "inventory_hashes": hashes,
                  "inventory_wanted": "full" if stale else "none"}
        if report.facts is not None:
            with_facts.append({**values, "facts": report.facts.model_dump(mode="json"),
                               "hostname": report.facts.hostname})
        else:
            without_facts.append(values)
        results.append(sections)
    for rows in (with_facts, without_facts):
        if rows:
            columns = [name for name in rows[0] if name != "device"]
            session.execute(update(agents).where(agents.c.id == bindparam("device"))
                            .values({name: bindparam(name) for name in columns}), rows)
    return results


def _write_managed(session: Session, batch: Sequence[tuple[DeviceWrite, Sequence[ManagedItem]]],
                   now: datetime) -> None:
    for ids in chunks([device.agent_id for device, _items in batch]):
        session.execute(delete(managed_software).where(managed_software.c.agent_id.in_(ids)))
    rows = []
    for device, items in batch:
        # The last receipt for a package wins if an agent ever sends two.
        by_package = {item.package: item for item in items}
        rows += [{"agent_id": device.agent_id, "package": item.package, "client": device.client,
                  "version": item.version, "sha256": item.sha256, "installed_at": item.installed_at,
                  "reported_at": now} for item in by_package.values()]
    if rows:
        session.execute(insert(managed_software), rows)


def require_visible_agent(session: Session, agent_id: str, client: str | None) -> None:
    """NotFound unless ``agent_id`` exists and, for a client-scoped caller, belongs to ``client``."""
    statement = select(agents.c.id).where(agents.c.id == agent_id)
    if client is not None:
        statement = statement.where(agents.c.client == client)
    if session.execute(statement).first() is None:
        raise NotFound(f"agent {agent_id} does not exist", hint="list agents with GET /api/agents")


def list_software(store: Store, agent_id: str, client: str | None) -> list[InstalledSoftware]:
    """The agent's last reported software inventory, by name."""
    table = software_inventory.c
    with store.read() as session:
        require_visible_agent(session, agent_id, client)
        rows = session.execute(
            select(table.name, table.version, table.source, table.arch, table.publisher, table.updated_at)
            .where(table.agent_id == agent_id).order_by(table.name, table.version)).mappings().all()
    return [InstalledSoftware.model_validate(dict(row)) for row in rows]


def list_managed(store: Store, agent_id: str, client: str | None) -> list[ManagedPackage]:
    """Packages Fleetward installed on the agent, from its receipts, by package."""
    table = managed_software.c
    with store.read() as session:
        require_visible_agent(session, agent_id, client)
        rows = session.execute(
            select(table.package, table.version, table.sha256, table.installed_at, table.reported_at)
            .where(table.agent_id == agent_id).order_by(table.package)).mappings().all()
    return [ManagedPackage.model_validate(dict(row)) for row in rows]
