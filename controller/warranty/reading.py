"""One serial's warranty as the operator API shows it, within the caller's client scope.

A serial belongs to the clients whose devices report it (hardware inventory) and, for a
manual record, to the client whose folder holds the record. A client-scoped caller sees
only serials of its own client; for anything else the answer is the same as for a serial
nobody knows, so one tenant cannot probe another's serials.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import select

from controller.store import Store
from controller.store.tables import agents, asset_warranties, hardware_inventory
from controller.warranty.serials import plausible_serial, vendor_of

MAX_SERIAL_LENGTH = 100


class WarrantyDevice(BaseModel):
    agent_id: str
    client: str
    hostname: str


class WarrantyCoverage(BaseModel):
    name: str
    start: date | None
    end: date | None
    kind: str


class WarrantyPublic(BaseModel):
    serial: str
    vendor: str
    source: str = Field(description="dell, lenovo, hp (a vendor lookup) or manual (a Warranty record in git).")
    found: bool = Field(description="False when the vendor does not know the serial.")
    model: str
    start: date | None
    end: date | None
    service_level: str
    days_left: int | None = Field(description="Days until the end (negative once it has passed).")
    coverages: list[WarrantyCoverage]
    manual_record: str | None = Field(description="The Warranty resource that overrides the lookup, if any.")
    fetched_at: datetime | None
    fresh_until: datetime | None
    last_error: str = Field(description="Why the last lookup failed, with what to do; empty when it worked.")
    next_attempt_at: datetime | None
    devices: list[WarrantyDevice]


class Unknown(BaseModel):
    """Why a serial has no record: for the 404's message."""

    hint: str


def _devices(store: Store, serial: str, client: str | None) -> list[tuple[str, str, str, str]]:
    hw = hardware_inventory.c
    statement = (select(agents.c.id, agents.c.client, agents.c.hostname, hw.manufacturer)
                 .join(hardware_inventory, hw.agent_id == agents.c.id)
                 .where(hw.serial == serial, agents.c.revoked_at.is_(None)).order_by(agents.c.id))
    if client is not None:
        statement = statement.where(agents.c.client == client)
    with store.read() as session:
        return [(row[0], row[1], row[2], row[3]) for row in session.execute(statement)]


def visible(store: Store, serial: str, client: str | None) -> bool:
    """Whether a caller scoped to ``client`` (None: MSP-wide) may see ``serial``."""
    if len(serial) > MAX_SERIAL_LENGTH:
        return False
    if client is None or _devices(store, serial, client):
        return True
    row = _row(store, serial)
    manual = (row or {}).get("data", {}).get("manual") if row else None
    return isinstance(manual, dict) and manual.get("client") == client


def _row(store: Store, serial: str) -> dict[str, Any] | None:
    with store.read() as session:
        found = session.execute(select(*asset_warranties.c).where(asset_warranties.c.serial == serial)).first()
    return dict(found._mapping) if found is not None else None


def read_warranty(store: Store, serial: str, client: str | None, today: date) -> WarrantyPublic | Unknown:
    """The record of ``serial`` as ``client`` may see it, or why there is none."""
    nobody = Unknown(hint=f"no device{' of client ' + client if client else ''} reports serial {serial!r} and "
                          "no Warranty record names it; check the serial")
    if len(serial) > MAX_SERIAL_LENGTH or not visible(store, serial, client):
        return nobody
    devices = _devices(store, serial, client)
    row = _row(store, serial)
    if row is None and not devices:
        return nobody
    if row is None:
        vendors = {vendor_of(manufacturer) for _, _, _, manufacturer in devices} - {None}
        if not plausible_serial(serial):
            why = "it is a placeholder, not a real serial; fix it in the device's firmware or add a Warranty record"
        elif vendors:
            why = (f"{'/'.join(sorted(v for v in vendors if v))} is asked at the next refresh if spec.warranty in "
                   "fleet.yaml configures it; ask now with ?refresh=true")
        else:
            why = "its manufacturer has no warranty lookup; add a Warranty record for it in git"
        return Unknown(hint=f"no warranty known for serial {serial!r} yet: {why}")
    data = row["data"] if isinstance(row["data"], dict) else {}
    vendor_answer: dict[str, Any] = data["vendor"] if isinstance(data.get("vendor"), dict) else {}
    manual: dict[str, Any] | None = data["manual"] if isinstance(data.get("manual"), dict) else None
    raw_coverages = vendor_answer.get("coverages") if row["source"] != "manual" else None
    coverages = [WarrantyCoverage.model_validate(c) for c in raw_coverages or [] if isinstance(c, dict)]
    if manual is not None:
        coverages = [WarrantyCoverage(name=row["service_level"], start=row["start"], end=row["end"],
                                      kind=str(manual.get("kind", "")))]
    end: date | None = row["end"]
    return WarrantyPublic(
        serial=serial, vendor=row["vendor"], source=row["source"],
        found=manual is not None or bool(vendor_answer.get("found", bool(vendor_answer))),
        model=row["model"], start=row["start"], end=end, service_level=row["service_level"],
        days_left=(end - today).days if end is not None else None, coverages=coverages,
        manual_record=f"Warranty {manual.get('ref')} ({manual.get('location')})" if manual else None,
        fetched_at=row["fetched_at"], fresh_until=row["fresh_until"], last_error=row["last_error"],
        next_attempt_at=row["next_attempt_at"],
        devices=[WarrantyDevice(agent_id=a, client=c, hostname=h) for a, c, h, _ in devices])
