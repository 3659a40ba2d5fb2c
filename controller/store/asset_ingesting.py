"""Writing inventory reports, many devices per transaction, with the history of what changed.

Called by :func:`controller.store.inventory.ingest_inventories` inside its transaction,
one function per section, each for a whole batch of reports (one per device): a batch
costs a handful of statements whatever its size, so a controller receiving reports from
thousands of agents at once writes them in a few large transactions instead of
thousands of small ones. Each section is written as the difference from what is stored
(a delta report that upgrades one package touches two rows, not 150) and yields the
:class:`~controller.store.inventory_changes.InventoryChange` rows for ``asset_history``:

- ``software``: compared with the device's stored section (``asset_software_sections``,
  one row per device); rows keyed by (source, name, arch, version) are deleted and
  inserted for what differs, a publisher or install date change rewrites the row.
  ``name_key`` (lower case) feeds the fleet-wide search.
- ``hardware``: one row per device, the searchable columns plus the whole section.
- ``licenses``: the keys the OS exposes. The full key is sealed to the controller's
  newest sealing key before it is stored; without a sealer it is dropped, never
  stored in the clear. Only the last five characters are kept readable.
- ``network``: devices the agent saw, upserted per (client, ip, mac); ``last_seen``
  moves, ``first_seen`` stays.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from controller.store.bulk import BulkInsert
from controller.store.inventory_changes import (
    InventoryChange,
    hardware_changes,
    software_changes,
)
from controller.store.tables import (
    asset_history,
    hardware_inventory,
    license_keys,
    network_devices,
    software_inventory,
    software_sections,
)
from schemas.inventory import HardwareInventory, LicenseKeyItem, NetworkNeighbour
from schemas.protocol import SoftwareDelta, SoftwareItem

Sealer = Callable[[str], str]
SOFTWARE_COLUMNS = ("agent_id", "client", "name", "name_key", "version", "source", "arch", "publisher",
                    "install_date", "updated_at")
T = TypeVar("T")
CHUNK = 500
"""Ids per ``IN (...)``: well under every database's parameter limit."""


@dataclass
class DeviceWrite:
    """One device's report within a batch, and what writing it changed."""

    agent_id: str
    client: str
    baseline: set[str] = field(default_factory=set)
    """Sections the controller never had for this device: their first report is no change."""
    changes: list[InventoryChange] = field(default_factory=list)


def chunks(values: Sequence[T]) -> Iterable[Sequence[T]]:
    for start in range(0, len(values), CHUNK):
        yield values[start:start + CHUNK]


Entry = tuple[str, ...]
"""A stored software item: (source, name, arch, version, publisher, install date or "")."""

_FIELD, _RECORD = "\x1f", "\x1e"
"""ASCII unit and record separators: control characters no package name or version holds
(they are removed from values before storing, so a hostile name cannot forge a record)."""


def _entries(items: Sequence[SoftwareItem]) -> tuple[dict[Entry, SoftwareItem], str]:
    """The report's entries (one per (source, name, arch, version)) and their stored text."""
    found = _unique(items, clean=False)
    text = _encode(found)
    if text.count(_FIELD) != 5 * len(found) or text.count(_RECORD) != max(0, len(found) - 1):
        found = _unique(items, clean=True)  # a value holds a separator: the rare, slower path
        text = _encode(found)
    return found, text


def _unique(items: Sequence[SoftwareItem], *, clean: bool) -> dict[Entry, SoftwareItem]:
    found: dict[Entry, SoftwareItem] = {}
    keys: set[Entry] = set()
    for item in items:
        entry: Entry = (item.source, item.name, item.arch, item.version, item.publisher,
                        item.install_date.isoformat() if item.install_date else "")
        if clean:
            entry = tuple(value.replace(_FIELD, "").replace(_RECORD, "") for value in entry)
        if entry[:4] not in keys:
            keys.add(entry[:4])
            found[entry] = item
    return found


def _encode(entries: Iterable[Entry]) -> str:
    return _RECORD.join(_FIELD.join(entry) for entry in sorted(entries))


def _decode(text: str) -> set[Entry]:
    return {tuple(record.split(_FIELD)) for record in text.split(_RECORD)} if text else set()


SoftwareReport = Sequence[SoftwareItem] | SoftwareDelta
"""A whole software section, or the changes to the stored one."""


def write_software(session: Session, batch: Sequence[tuple[DeviceWrite, SoftwareReport]], now: datetime) -> set[str]:
    """Compare each report with the device's stored section (one row per device, not one per
    package), then delete the rows that went, insert the ones that came, store the new section.

    Returns the agents whose delta could not be applied (no stored section to apply it to);
    their software is left as it was.
    """
    sections: dict[str, str] = {}
    refused: set[str] = set()
    for ids in chunks([device.agent_id for device, _items in batch]):
        sections.update(session.execute(select(software_sections.c.agent_id, software_sections.c.entries)
                                        .where(software_sections.c.agent_id.in_(ids))).all())
    gone: list[dict[str, Any]] = []
    rows = BulkInsert(session.connection(), software_inventory, SOFTWARE_COLUMNS)
    updated_at = rows.value("updated_at", now)
    came: list[tuple[Any, ...]] = []
    replace_all: list[str] = []
    section_inserts: list[dict[str, Any]] = []
    section_updates: list[dict[str, Any]] = []
    for device, report in batch:
        stored = sections.get(device.agent_id)
        old_entries = _decode(stored) if stored is not None else set()
        if isinstance(report, SoftwareDelta):
            if stored is None:
                refused.add(device.agent_id)
                continue
            by_entry, new_entries = _apply_delta(old_entries, report)
            text = _encode(new_entries)
        else:
            by_entry, text = _entries(report)
            new_entries = set(by_entry)
        if stored is None:
            # No stored section (first report): whatever rows exist are replaced whole.
            replace_all.append(device.agent_id)
            removed, added = set(), new_entries
            section_inserts.append({"agent_id": device.agent_id, "entries": text, "updated_at": now})
        else:
            removed, added = old_entries - new_entries, new_entries - old_entries
            if removed or added:
                section_updates.append({"device": device.agent_id, "entries": text, "updated_at": now})
        gone += [{"device": device.agent_id, "s": entry[0], "n": entry[1], "a": entry[2], "v": entry[3]}
                 for entry in removed]
        for entry in added:
            source, name, arch, version, publisher, _date = entry
            came.append((device.agent_id, device.client, name, name.lower(), version, source, arch, publisher,
                         rows.value("install_date", by_entry[entry].install_date), updated_at))
        if stored is not None or "software" not in device.baseline:
            device.changes += software_changes(old_entries, new_entries)
    table = software_inventory.c
    for ids in chunks(replace_all):
        session.execute(delete(software_inventory).where(table.agent_id.in_(ids)))
    if gone:
        session.execute(delete(software_inventory).where(
            table.agent_id == bindparam("device"), table.source == bindparam("s"), table.name == bindparam("n"),
            table.arch == bindparam("a"), table.version == bindparam("v")), gone)
    rows.execute(came)
    if section_inserts:
        session.execute(insert(software_sections), section_inserts)
    if section_updates:
        session.execute(update(software_sections).where(software_sections.c.agent_id == bindparam("device"))
                        .values(entries=bindparam("entries"), updated_at=bindparam("updated_at")), section_updates)
    return refused


def _apply_delta(old: set[Entry], delta: SoftwareDelta) -> tuple[dict[Entry, SoftwareItem], set[Entry]]:
    """The added items by entry, and the section after ``delta``: removed items go by (source,
    name, arch, version), and an added item replaces a stored one with the same key."""
    added, _text = _entries(delta.added)
    gone: set[tuple[str, ...]] = {(item.source, item.name, item.arch, item.version) for item in delta.removed}
    gone |= {entry[:4] for entry in added}
    return added, {entry for entry in old if entry[:4] not in gone} | set(added)


def hardware_summary(hardware: HardwareInventory) -> dict[str, Any]:
    """The columns people filter and sort by; the whole section goes in ``data``."""
    return {
        "manufacturer": hardware.system.manufacturer, "model": hardware.system.model,
        "serial": hardware.system.serial[:500],
        "cpu_model": hardware.cpus[0].model if hardware.cpus else "",
        "cpu_cores": sum(cpu.cores for cpu in hardware.cpus),
        "memory_bytes": hardware.memory.total_bytes,
        "disk_bytes": sum(disk.size_bytes for disk in hardware.disks if disk.type != "removable"),
        "os_name": hardware.os.name, "os_version": hardware.os.version,
    }


def write_hardware(session: Session, batch: Sequence[tuple[DeviceWrite, HardwareInventory]], now: datetime) -> None:
    table = hardware_inventory.c
    stored: dict[str, Any] = {}
    for ids in chunks([device.agent_id for device, _hardware in batch]):
        stored.update(session.execute(select(table.agent_id, table.data).where(table.agent_id.in_(ids))).all())
    inserts, updates = [], []
    for device, hardware in batch:
        data = hardware.model_dump(mode="json")
        values = {**hardware_summary(hardware), "client": device.client, "data": data, "updated_at": now}
        if device.agent_id in stored:
            updates.append({"device": device.agent_id, **values})
            device.changes += hardware_changes(stored[device.agent_id], data)
        else:
            inserts.append({"agent_id": device.agent_id, **values})
    if inserts:
        session.execute(insert(hardware_inventory), inserts)
    if updates:
        columns = [name for name in updates[0] if name != "device"]
        session.execute(update(hardware_inventory).where(table.agent_id == bindparam("device"))
                        .values({name: bindparam(name) for name in columns}), updates)


def write_license_keys(session: Session, batch: Sequence[tuple[DeviceWrite, Sequence[LicenseKeyItem], Sealer | None]],
                       now: datetime) -> None:
    table = license_keys.c
    stored: dict[str, dict[str, str]] = {device.agent_id: {} for device, _items, _seal in batch}
    for ids in chunks(list(stored)):
        for agent_id, product, status in session.execute(
                select(table.agent_id, table.product, table.status).where(table.agent_id.in_(ids))):
            stored[agent_id][product] = status
        session.execute(delete(license_keys).where(table.agent_id.in_(ids)))
    rows = []
    for device, items, seal in batch:
        by_product = {item.product: item for item in items}
        for product, item in by_product.items():
            partial = item.partial_key or item.key[-5:]
            sealed = seal(item.key) if item.key and seal is not None else None
            rows.append({"agent_id": device.agent_id, "product": product[:500], "client": device.client,
                         "channel": item.channel, "status": item.status, "partial_key": partial[-5:],
                         "sealed_key": sealed, "updated_at": now})
        was = stored[device.agent_id]
        if was or "licenses" not in device.baseline:
            device.changes += _licence_changes(was, {product: item.status for product, item in by_product.items()})
    if rows:
        session.execute(insert(license_keys), rows)


def _licence_changes(was: dict[str, str], now: dict[str, str]) -> list[InventoryChange]:
    changes = []
    for product in sorted(was.keys() | now.keys()):
        before, after = was.get(product), now.get(product)
        if before is None:
            changes.append(InventoryChange("licenses", "added", product, None, after))
        elif after is None:
            changes.append(InventoryChange("licenses", "removed", product, before, None))
        elif before != after:
            changes.append(InventoryChange("licenses", "changed", product, before, after))
    return changes


def write_network(session: Session, device: DeviceWrite, seen: Sequence[NetworkNeighbour], now: datetime) -> None:
    """Network sightings of one device (rarely in a hot path: they change slowly)."""
    if not seen:
        return
    table = network_devices.c
    latest: dict[tuple[str, str], NetworkNeighbour] = {}
    for neighbour in seen:
        latest[(neighbour.ip, neighbour.mac or "")] = neighbour
    stored: dict[tuple[str, str], int] = {}
    for ips in chunks(sorted({ip for ip, _mac in latest})):
        for row in session.execute(select(table.id, table.ip, table.mac).where(
                table.client == device.client, table.ip.in_(ips))):
            stored[(row.ip, row.mac)] = row.id
    new_rows, updates = [], []
    for (ip, mac), neighbour in latest.items():
        values = {"hostname": neighbour.hostname, "vendor": neighbour.vendor, "source": neighbour.source,
                  "open_ports": sorted(set(neighbour.open_ports)), "seen_by": device.agent_id, "last_seen": now}
        row_id = stored.get((ip, mac))
        if row_id is not None:
            updates.append({"row": row_id, **values})
        else:
            new_rows.append({**values, "client": device.client, "ip": ip, "mac": mac, "first_seen": now,
                             "managed_agent_id": None})
    if updates:
        session.execute(update(network_devices).where(table.id == bindparam("row"))
                        .values({name: bindparam(name) for name in updates[0] if name != "row"}), updates)
    if new_rows:
        session.execute(insert(network_devices), new_rows)


def write_history(session: Session, devices: Iterable[DeviceWrite], now: datetime) -> None:
    history = BulkInsert(session.connection(), asset_history,
                         ("agent_id", "client", "at", "section", "change", "item", "old", "new"))
    at = history.value("at", now)
    history.execute([(device.agent_id, device.client, at, change.section, change.change, change.item[:500],
                      change.old, change.new) for device in devices for change in device.changes])
