"""Reading the asset inventory: hardware, software (per device and fleet-wide), licence keys,
devices discovered on the network, and the change history.

Every function takes the caller's client scope (None: MSP-wide) and filters by it in
SQL; a device of another client is "not found". Lists are paged (``limit``/``offset``,
or ``before_id`` for the history, which grows at the front) and capped.

The fleet-wide software search ("which devices have OpenSSL >= 3.0.11") narrows by name
in SQL through the ``name_key`` index and compares versions in Python with dpkg's
ordering (:mod:`controller.store.versions`); a fleet holds few distinct versions of one
product, so each distinct string is compared once.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from controller.errors import NotFound, PermanentError
from controller.store.engine import Store
from controller.store.inventory import require_visible_agent
from controller.store.tables import (
    agents,
    asset_history,
    hardware_inventory,
    license_keys,
    network_devices,
    software_inventory,
)
from controller.store.versions import VersionRange
from schemas.inventory import HardwareInventory

MAX_PAGE = 10_000
MAX_VERSIONS_IN_SQL = 1000
"""More matching versions than this are filtered by the ones that do not match instead."""


class InvalidQuery(PermanentError):
    code = "invalid_query"


class HardwareRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    agent_id: str
    client: str
    manufacturer: str
    model: str
    serial: str
    cpu_model: str
    cpu_cores: int
    memory_bytes: int
    disk_bytes: int
    os_name: str
    os_version: str
    updated_at: datetime
    hardware: HardwareInventory


class SoftwareRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    version: str
    source: str
    arch: str
    publisher: str
    install_date: date | None
    updated_at: datetime


class SoftwarePage(BaseModel):
    total: int
    items: list[SoftwareRecord]


class LicenseKeyRecord(BaseModel):
    """A licence key found on a device: the key itself only as its last five characters."""

    model_config = ConfigDict(frozen=True)

    product: str
    channel: str
    status: str
    partial_key: str
    has_full_key: bool
    updated_at: datetime


class NetworkDeviceRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    client: str
    ip: str
    mac: str
    hostname: str
    vendor: str
    source: str
    open_ports: list[int]
    seen_by: str
    managed_agent_id: str | None
    first_seen: datetime
    last_seen: datetime


class HistoryRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    agent_id: str
    hostname: str
    client: str
    at: datetime
    section: str
    change: str
    item: str
    old: str | None
    new: str | None


class SoftwareMatch(BaseModel):
    model_config = ConfigDict(frozen=True)

    agent_id: str
    hostname: str
    client: str
    name: str
    version: str
    source: str
    arch: str


def _page(limit: int, offset: int = 0) -> tuple[int, int]:
    return max(1, min(limit, MAX_PAGE)), max(0, offset)


def get_hardware(store: Store, agent_id: str, client: str | None) -> HardwareRecord:
    table = hardware_inventory.c
    with store.read() as session:
        require_visible_agent(session, agent_id, client)
        row = session.execute(select(hardware_inventory).where(table.agent_id == agent_id)).mappings().first()
    if row is None:
        raise NotFound(f"agent {agent_id} has not reported hardware yet",
                       hint="agents send hardware with their next full inventory (daily, or when asked)")
    values = dict(row)
    return HardwareRecord(hardware=HardwareInventory.model_validate(values.pop("data")), **values)


def list_device_software(store: Store, agent_id: str, client: str | None, *, name: str | None = None,
                         publisher: str | None = None, source: str | None = None,
                         limit: int = 1000, offset: int = 0) -> SoftwarePage:
    """The device's software by name; ``name`` and ``publisher`` match as case-insensitive substrings
    or ``*`` patterns, ``source`` exactly."""
    table = software_inventory.c
    limit, offset = _page(limit, offset)
    filters: list[Any] = [table.agent_id == agent_id]
    if name:
        filters.append(table.name_key.like(_like(name), escape="\\"))
    if publisher:
        filters.append(func.lower(table.publisher).like(_like(publisher), escape="\\"))
    if source:
        filters.append(table.source == source)
    with store.read() as session:
        require_visible_agent(session, agent_id, client)
        total = session.execute(select(func.count()).select_from(software_inventory).where(*filters)).scalar_one()
        rows = session.execute(
            select(table.name, table.version, table.source, table.arch, table.publisher, table.install_date,
                   table.updated_at)
            .where(*filters).order_by(table.name_key, table.version, table.arch).limit(limit).offset(offset)
        ).mappings().all()
    return SoftwarePage(total=int(total), items=[SoftwareRecord.model_validate(dict(row)) for row in rows])


def list_device_license_keys(store: Store, agent_id: str, client: str | None) -> list[LicenseKeyRecord]:
    table = license_keys.c
    with store.read() as session:
        require_visible_agent(session, agent_id, client)
        rows = session.execute(
            select(table.product, table.channel, table.status, table.partial_key, table.updated_at,
                   table.sealed_key.is_not(None).label("has_full_key"))
            .where(table.agent_id == agent_id).order_by(table.product)).mappings().all()
    return [LicenseKeyRecord.model_validate(dict(row)) for row in rows]


def sealed_license_key(store: Store, agent_id: str, client: str | None, product: str) -> str:
    """The sealed full key of one product on one device (for an audited reveal)."""
    table = license_keys.c
    with store.read() as session:
        require_visible_agent(session, agent_id, client)
        sealed = session.execute(select(table.sealed_key).where(
            table.agent_id == agent_id, table.product == product)).scalar_one_or_none()
    if not sealed:
        raise NotFound(f"no full key of {product!r} is stored for agent {agent_id}",
                       hint="GET .../inventory/licenses lists the products and whether a full key is stored")
    return str(sealed)


def list_network_devices(store: Store, client: str | None, *, unmanaged_only: bool = False,
                         limit: int = 1000, offset: int = 0) -> list[NetworkDeviceRecord]:
    """Devices the client's agents saw, newest sighting first. ``managed_agent_id`` names the
    enrolled device with that MAC address, so unmanaged devices (no agent) stand out."""
    limit, offset = _page(limit, offset)
    table = network_devices.c
    statement = select(network_devices).order_by(table.last_seen.desc(), table.ip, table.id)
    if client is not None:
        statement = statement.where(table.client == client)
    with store.read() as session:
        rows = [dict(row) for row in session.execute(statement).mappings()]
        owners = _agents_by_mac(session, client, {row["mac"] for row in rows if row["mac"]})
    found = []
    for row in rows:
        row["managed_agent_id"] = owners.get((row["client"], row["mac"]))
        if unmanaged_only and row["managed_agent_id"] is not None:
            continue
        found.append(NetworkDeviceRecord.model_validate(row))
    return found[offset:offset + limit]


def _agents_by_mac(session: Session, client: str | None, macs: set[str]) -> dict[tuple[str, str], str]:
    """(client, MAC) -> agent id, from the interfaces in each device's hardware report."""
    if not macs:
        return {}
    statement = select(hardware_inventory.c.agent_id, hardware_inventory.c.client, hardware_inventory.c.data)
    if client is not None:
        statement = statement.where(hardware_inventory.c.client == client)
    owners: dict[tuple[str, str], str] = {}
    for row in session.execute(statement):
        for interface in (row.data or {}).get("interfaces") or []:
            mac = str(interface.get("mac") or "").lower().replace("-", ":")  # Windows writes AA-BB-...
            if mac in macs:
                owners[(row.client, mac)] = row.agent_id
    return owners


def list_history(store: Store, client: str | None, *, agent_id: str | None = None, section: str | None = None,
                 since: datetime | None = None, before_id: int | None = None,
                 limit: int = 500) -> list[HistoryRecord]:
    """Changes newest first; page with ``before_id`` = the last id of the previous page."""
    limit, _ = _page(limit)
    table = asset_history.c
    statement: Select[Any] = (select(*table, agents.c.hostname).join(agents, agents.c.id == table.agent_id)
                              .order_by(table.id.desc()).limit(limit))
    if client is not None:
        statement = statement.where(table.client == client)
    if agent_id is not None:
        statement = statement.where(table.agent_id == agent_id)
    if section is not None:
        statement = statement.where(table.section == section)
    if since is not None:
        statement = statement.where(table.at >= since)
    if before_id is not None:
        statement = statement.where(table.id < before_id)
    with store.read() as session:
        return [HistoryRecord.model_validate(dict(row)) for row in session.execute(statement).mappings()]


def search_software(store: Store, client: str | None, name: str, *, minimum: str | None = None,
                    maximum: str | None = None, limit: int = 1000) -> tuple[int, list[SoftwareMatch]]:
    """Devices with software whose name matches ``name`` (case-insensitive; ``*`` is a wildcard,
    otherwise an exact name) and whose version lies in [minimum, maximum]. Returns (devices
    matched, the first ``limit`` matches by client and hostname).

    Versions are compared in Python (dpkg's order has no SQL equivalent), but only the
    distinct versions are fetched for that; counting and paging happen in SQL on the versions
    that matched.
    """
    pattern = name.strip().lower()
    if not pattern or pattern.strip("*") == "":
        raise InvalidQuery("a software search needs a name", hint="for example name=openssl or name=openssl*")
    limit, _ = _page(limit)
    table = software_inventory.c
    conditions: list[Any] = [table.name_key == pattern]
    if "*" in pattern:
        conditions = [table.name_key.like(_like(pattern, substring=False), escape="\\")]
        prefix = pattern.split("*", 1)[0]
        if prefix:
            # A range on the literal prefix lets the index narrow (LIKE alone cannot use it on SQLite).
            conditions += [table.name_key >= prefix, table.name_key < prefix[:-1] + chr(ord(prefix[-1]) + 1)]
    if client is not None:
        conditions.append(table.client == client)
    versions = VersionRange(minimum, maximum)
    with store.read() as session:
        if not versions.unbounded:
            distinct = session.execute(select(table.version).where(*conditions).distinct()).scalars().all()
            wanted = sorted(version for version in distinct if version in versions)
            if not wanted:
                return 0, []
            if len(wanted) < len(distinct):
                conditions.append(table.version.in_(wanted) if len(wanted) <= MAX_VERSIONS_IN_SQL
                                  else table.version.not_in([v for v in distinct if v not in versions]))
        live = [*conditions, agents.c.revoked_at.is_(None)]
        devices = session.execute(select(func.count(func.distinct(table.agent_id)))
                                  .select_from(software_inventory.join(agents, agents.c.id == table.agent_id))
                                  .where(*live)).scalar_one()
        rows = session.execute(
            select(table.agent_id, agents.c.hostname, table.client, table.name, table.version, table.source,
                   table.arch)
            .join(agents, agents.c.id == table.agent_id).where(*live)
            .order_by(table.client, agents.c.hostname, table.agent_id, table.name, table.version)
            .limit(limit)).mappings().all()
    return int(devices), [SoftwareMatch.model_validate(dict(row)) for row in rows]


def _like(pattern: str, *, substring: bool = True) -> str:
    """A user pattern as SQL LIKE: ``*`` is the wildcard, ``%`` and ``_`` match themselves."""
    escaped = pattern.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_").replace("*", "%")
    if substring and "%" not in escaped.replace("\\%", ""):
        return f"%{escaped}%"
    return escaped
