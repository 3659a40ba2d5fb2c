"""The asset part of a status snapshot: hardware summaries, software counts, licences, warranties.

Five set-based reads; values are rounded for people (GiB) and free of timestamps, so a quiet fleet
renders the same bytes.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select

from controller.status.snapshot import LicenceLine, WarrantyLine, WarrantyProblem
from controller.store import Store
from controller.store.tables import agents, asset_licenses, asset_warranties, hardware_inventory, software_inventory

WARRANTY_HORIZON_DAYS = 90


def _gib(value: int) -> str:
    return f"{value / 2**30:.1f} GiB" if value else ""


@dataclass(frozen=True)
class AssetSummaries:
    hardware: dict[str, tuple[tuple[str, str], ...]]
    software_counts: dict[str, int]
    licences: dict[str, tuple[LicenceLine, ...]]
    warranties: dict[str, tuple[WarrantyLine, ...]]
    warranty_problems: dict[str, tuple[WarrantyProblem, ...]]


def collect_assets(store: Store, today: date) -> AssetSummaries:
    hw = hardware_inventory.c
    with store.read() as session:
        hardware_rows = session.execute(select(hw.agent_id, hw.manufacturer, hw.model, hw.serial, hw.cpu_model,
                                               hw.cpu_cores, hw.memory_bytes, hw.disk_bytes, hw.os_name,
                                               hw.os_version)).all()
        counts: dict[str, int] = dict(session.execute(select(software_inventory.c.agent_id, func.count())
                                      .group_by(software_inventory.c.agent_id)).all())
        licence_rows = session.execute(select(asset_licenses).order_by(asset_licenses.c.id)).mappings().all()
        warranty_rows = session.execute(
            select(agents.c.client, agents.c.hostname, hw.serial, asset_warranties.c.vendor,
                   asset_warranties.c.end)
            .join(hardware_inventory, hw.agent_id == agents.c.id)
            .join(asset_warranties, asset_warranties.c.serial == hw.serial)
            .where(agents.c.revoked_at.is_(None), asset_warranties.c.end.is_not(None))).all()
        problem_rows = session.execute(
            select(agents.c.client, agents.c.hostname, hw.serial, asset_warranties.c.last_error)
            .join(hardware_inventory, hw.agent_id == agents.c.id)
            .join(asset_warranties, asset_warranties.c.serial == hw.serial)
            .where(agents.c.revoked_at.is_(None), asset_warranties.c.last_error != "")
            .order_by(agents.c.client, agents.c.hostname, hw.serial)).all()
    hardware = {}
    for row in hardware_rows:
        pairs = (("manufacturer", row.manufacturer), ("model", row.model), ("serial", row.serial),
                 ("cpu", f"{row.cpu_model} ({row.cpu_cores} cores)" if row.cpu_model else ""),
                 ("memory", _gib(row.memory_bytes)), ("disks", _gib(row.disk_bytes)),
                 ("os", f"{row.os_name} {row.os_version}".strip()))
        hardware[row.agent_id] = tuple((key, value) for key, value in pairs if value)
    licences: dict[str, list[LicenceLine]] = defaultdict(list)
    for record in licence_rows:
        line = LicenceLine(ref=record["id"], product=record["product"], seats=record["seats"],
                           used=record["seats_used"], state=record["state"], expires=record["expires"],
                           notes=tuple(record["detail"].get("notes", [])))
        licences[record["client"] or "*"].append(line)
    warranties: dict[str, list[WarrantyLine]] = defaultdict(list)
    for client, hostname, serial, vendor, end in warranty_rows:
        days_left = (end - today).days
        if days_left <= WARRANTY_HORIZON_DAYS:
            warranties[client].append(WarrantyLine(hostname, serial, vendor, end, days_left))
    problems: dict[str, list[WarrantyProblem]] = defaultdict(list)
    for client, hostname, serial, error in problem_rows:
        problems[client].append(WarrantyProblem(hostname, serial, error.splitlines()[0][:300]))
    return AssetSummaries(
        hardware=hardware, software_counts={str(k): int(v) for k, v in counts.items()},
        licences={client: tuple(lines) for client, lines in licences.items()},
        warranties={client: tuple(sorted(lines, key=lambda w: (w.days_left, w.hostname)))
                    for client, lines in warranties.items()},
        warranty_problems={client: tuple(lines) for client, lines in problems.items()},
    )
