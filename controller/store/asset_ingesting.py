"""Writing one inventory report's sections, with the history of what changed.

Called by :func:`controller.store.inventory.ingest_inventory` inside its transaction,
one function per section. Each writes only the difference from what is stored (a
delta report that upgrades one package touches two rows, not 150) and returns the
:class:`~controller.store.inventory_changes.InventoryChange` rows for
``asset_history``:

- ``software``: rows keyed by (source, name, arch, version); publisher or install
  date changes rewrite the row. ``name_key`` (lower case) feeds the fleet-wide search.
- ``hardware``: one row per device, the searchable columns plus the whole section.
- ``licenses``: the keys the OS exposes. The full key is sealed to the controller's
  newest sealing key before it is stored; without a sealer it is dropped, never
  stored in the clear. Only the last five characters are kept readable.
- ``network``: devices the agent saw, upserted per (client, ip, mac); ``last_seen``
  moves, ``first_seen`` stays.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from controller.store.inventory_changes import InventoryChange, hardware_changes, software_changes
from controller.store.tables import asset_history, hardware_inventory, license_keys, network_devices, software_inventory
from schemas.inventory import HardwareInventory, LicenseKeyItem, NetworkNeighbour
from schemas.protocol import SoftwareItem

Sealer = Callable[[str], str]


def write_software(session: Session, agent_id: str, client: str, items: Sequence[SoftwareItem],
                   now: datetime, *, baseline: bool) -> list[InventoryChange]:
    table = software_inventory.c
    stored = session.execute(
        select(table.id, table.source, table.name, table.arch, table.version, table.publisher, table.install_date)
        .where(table.agent_id == agent_id)).all()
    wanted: dict[tuple[str, str, str, str], SoftwareItem] = {}
    for item in items:
        wanted.setdefault((item.source, item.name, item.arch, item.version), item)
    kept: set[tuple[str, str, str, str]] = set()
    stale_ids = []
    for row in stored:
        key = (row.source, row.name, row.arch, row.version)
        found = wanted.get(key)
        if found is None or key in kept or (found.publisher, found.install_date) != (row.publisher, row.install_date):
            stale_ids.append(row.id)
        else:
            kept.add(key)
    if stale_ids:
        for start in range(0, len(stale_ids), 500):
            session.execute(delete(software_inventory).where(table.id.in_(stale_ids[start:start + 500])))
    rows = [{"agent_id": agent_id, "client": client, "name": item.name, "name_key": item.name.lower(),
             "version": item.version, "source": item.source, "arch": item.arch, "publisher": item.publisher,
             "install_date": item.install_date, "updated_at": now}
            for key, item in wanted.items() if key not in kept]
    if rows:
        session.execute(insert(software_inventory), rows)
    old = None if baseline and not stored else [(row.source, row.name, row.arch, row.version) for row in stored]
    return software_changes(old, [(item.source, item.name, item.arch, item.version) for item in items])


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


def write_hardware(session: Session, agent_id: str, client: str, hardware: HardwareInventory,
                   now: datetime) -> list[InventoryChange]:
    data = hardware.model_dump(mode="json")
    stored = session.execute(select(hardware_inventory.c.data)
                             .where(hardware_inventory.c.agent_id == agent_id)).scalar_one_or_none()
    values = {**hardware_summary(hardware), "client": client, "data": data, "updated_at": now}
    if stored is None:
        session.execute(insert(hardware_inventory).values(agent_id=agent_id, **values))
    else:
        session.execute(update(hardware_inventory).where(hardware_inventory.c.agent_id == agent_id).values(values))
    return hardware_changes(stored, data)


def write_license_keys(session: Session, agent_id: str, client: str, items: Sequence[LicenseKeyItem],
                       now: datetime, seal: Sealer | None) -> list[InventoryChange]:
    table = license_keys.c
    stored = {row.product: row for row in session.execute(
        select(table.product, table.status, table.partial_key).where(table.agent_id == agent_id))}
    session.execute(delete(license_keys).where(table.agent_id == agent_id))
    by_product = {item.product: item for item in items}
    rows = []
    for product, item in by_product.items():
        partial = item.partial_key or item.key[-5:]
        sealed = seal(item.key) if item.key and seal is not None else None
        rows.append({"agent_id": agent_id, "product": product[:500], "client": client, "channel": item.channel,
                     "status": item.status, "partial_key": partial[-5:], "sealed_key": sealed, "updated_at": now})
    if rows:
        session.execute(insert(license_keys), rows)
    changes = []
    for product in sorted(stored.keys() | by_product.keys()):
        was, now_item = stored.get(product), by_product.get(product)
        if was is None and now_item is not None:
            changes.append(InventoryChange("licenses", "added", product, None, now_item.status))
        elif was is not None and now_item is None:
            changes.append(InventoryChange("licenses", "removed", product, was.status, None))
        elif was is not None and now_item is not None and was.status != now_item.status:
            changes.append(InventoryChange("licenses", "changed", product, was.status, now_item.status))
    return changes if stored else []


def write_network(session: Session, agent_id: str, client: str, seen: Sequence[NetworkNeighbour],
                  now: datetime) -> None:
    if not seen:
        return
    table = network_devices.c
    latest: dict[tuple[str, str], NetworkNeighbour] = {}
    for device in seen:
        latest[(device.ip, device.mac or "")] = device
    stored: dict[tuple[str, str], int] = {}
    ips = sorted({ip for ip, _mac in latest})
    for start in range(0, len(ips), 500):
        for row in session.execute(select(table.id, table.ip, table.mac).where(
                table.client == client, table.ip.in_(ips[start:start + 500]))):
            stored[(row.ip, row.mac)] = row.id
    new_rows = []
    for (ip, mac), device in latest.items():
        values = {"hostname": device.hostname, "vendor": device.vendor, "source": device.source,
                  "open_ports": sorted(set(device.open_ports)), "seen_by": agent_id, "last_seen": now}
        row_id = stored.get((ip, mac))
        if row_id is not None:
            session.execute(update(network_devices).where(table.id == row_id).values(values))
        else:
            new_rows.append({**values, "client": client, "ip": ip, "mac": mac, "first_seen": now,
                             "managed_agent_id": None})
    if new_rows:
        session.execute(insert(network_devices), new_rows)


def write_history(session: Session, agent_id: str, client: str, changes: Sequence[InventoryChange],
                  now: datetime) -> None:
    if not changes:
        return
    session.execute(insert(asset_history), [
        {"agent_id": agent_id, "client": client, "at": now, "section": change.section, "change": change.change,
         "item": change.item[:500], "old": change.old, "new": change.new}
        for change in changes])
