"""The warranty cache in ``asset_warranties``: which serials are due, and writing what was learnt.

One row per serial. Its columns show the warranty that counts: a manual ``Warranty`` record
from git when there is one, else the vendor's last answer. ``data`` keeps both sides so
either can come back without asking again: ``data['vendor']`` is the vendor's last answer
(see :func:`~controller.warranty.results.result_json`), ``data['manual']`` the record's
origin, ``data['failures']``/``data['error_kind']`` the current run of failed lookups.

A serial is *due* when it has no row, or its answer is stale (``fresh_until`` passed) and it
is not waiting after an error (``next_attempt_at`` in the future). A failed lookup keeps the
cached answer, records ``last_error`` and pushes ``next_attempt_at`` out: by the vendor's
Retry-After when it gave one, else by a doubling backoff.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, delete, insert, or_, select, update
from sqlalchemy.orm import Session

from controller.desired import DesiredState
from controller.errors import FleetwardError
from controller.store import Store
from controller.store.tables import agents, asset_warranties, hardware_inventory
from controller.warranty.errors import WarrantyLookupError
from controller.warranty.results import WarrantyResult, result_from_json, result_json
from controller.warranty.serials import plausible_serial, vendor_of
from schemas.warranties import Warranty

BACKOFF_START = 300.0
BACKOFF_MAX = 24 * 3600.0
AUTH_RETRY = 3600.0
"""Refused credentials are tried again this often (a fixed fleet.yaml makes the next try succeed)."""
MAX_SERIALS_PER_REFRESH = 5000
"""A refresh asks vendors about at most this many serials; the rest wait for the next one."""


@dataclass(frozen=True)
class DueSerial:
    serial: str
    vendor: str
    model: str


def backoff(failures: int) -> float:
    """Seconds to wait after the ``failures``-th failed lookup in a row: 5 min doubling, capped at a day."""
    return float(min(BACKOFF_START * 2 ** max(0, failures - 1), BACKOFF_MAX))


def due_serials(store: Store, now: datetime, vendors: Iterable[str], *,
                limit: int = MAX_SERIALS_PER_REFRESH) -> list[DueSerial]:
    """Serials of enrolled devices made by ``vendors`` that are new, stale, or due again after an error."""
    wanted = set(vendors)
    if not wanted:
        return []
    hw, aw = hardware_inventory.c, asset_warranties.c
    statement = (
        select(hw.serial, hw.manufacturer, hw.model)
        .join(agents, agents.c.id == hw.agent_id)
        .outerjoin(asset_warranties, aw.serial == hw.serial)
        .where(agents.c.revoked_at.is_(None),
               or_(aw.serial.is_(None),
                   and_(aw.source != "manual",
                        or_(aw.fresh_until.is_(None), aw.fresh_until <= now),
                        or_(aw.next_attempt_at.is_(None), aw.next_attempt_at <= now))))
        .order_by(hw.serial))
    found: dict[str, DueSerial] = {}
    with store.read() as session:
        for serial, manufacturer, model in session.execute(statement):
            vendor = vendor_of(manufacturer or "")
            if vendor in wanted and serial not in found and plausible_serial(serial or ""):
                found[serial] = DueSerial(serial, vendor, (model or "")[:500])
            if len(found) >= limit:
                break
    return list(found.values())


def inventory_serials(store: Store, serials: Iterable[str]) -> list[DueSerial]:
    """``serials`` as the inventory knows them (vendor, model), due or not: for asking a vendor now."""
    asked = sorted({s for s in serials if plausible_serial(s)})
    if not asked:
        return []
    hw = hardware_inventory.c
    with store.read() as session:
        rows = session.execute(select(hw.serial, hw.manufacturer, hw.model)
                               .join(agents, agents.c.id == hw.agent_id)
                               .where(agents.c.revoked_at.is_(None), hw.serial.in_(asked))).all()
    found: dict[str, DueSerial] = {}
    for serial, manufacturer, model in rows:
        vendor = vendor_of(manufacturer or "")
        if vendor is not None:
            found.setdefault(serial, DueSerial(serial, vendor, (model or "")[:500]))
    return [found[s] for s in asked if s in found]


def _existing(session: Session, serials: list[str]) -> dict[str, dict[str, Any]]:
    if not serials:
        return {}
    rows = session.execute(select(*asset_warranties.c).where(asset_warranties.c.serial.in_(serials))).mappings()
    return {row["serial"]: dict(row) for row in rows}


def _upsert(session: Session, existing: Mapping[str, Mapping[str, Any]], rows: list[dict[str, Any]]) -> None:
    new = [row for row in rows if row["serial"] not in existing]
    old = [{("b_" + key): value for key, value in row.items()} for row in rows if row["serial"] in existing]
    if new:
        session.execute(insert(asset_warranties), new)
    if old:
        columns = [key for key in rows[0] if key != "serial"]
        session.execute(update(asset_warranties).where(asset_warranties.c.serial == bindparam("b_serial"))
                        .values({key: bindparam("b_" + key) for key in columns}),
                        old, execution_options={"synchronize_session": False})


def record_results(store: Store, due: Mapping[str, DueSerial], results: Mapping[str, WarrantyResult],
                   now: datetime, cache_days: int) -> None:
    """Store vendor answers (found or not); manual rows keep their columns and only learn the answer."""
    fresh_until = now + timedelta(days=cache_days)
    with store.write() as session:
        existing = _existing(session, sorted(results))
        rows = []
        for serial, result in sorted(results.items()):
            before = existing.get(serial)
            data = {key: value for key, value in dict(before["data"] if before else {}).items()
                    if key not in ("failures", "error_kind")}
            data["vendor"] = result_json(result, now)
            if before is not None and before["source"] == "manual":
                rows.append({**{k: before[k] for k in before}, "data": data})
                continue
            model = result.model or (due[serial].model if serial in due else "")
            rows.append({
                "serial": serial, "vendor": result.vendor, "source": result.vendor, "model": model[:500],
                "start": result.start, "end": result.end, "service_level": result.service_level[:500],
                "data": data, "fetched_at": now, "fresh_until": fresh_until,
                "last_error": "" if result.found else (
                    f"{result.vendor} does not know serial {serial}; if the serial is right, add a Warranty "
                    "record for it in git"),
                "next_attempt_at": None})
        _upsert(session, existing, rows)


def record_failure(store: Store, due: Iterable[DueSerial], error: FleetwardError, now: datetime) -> datetime:
    """Keep what is cached, note the error and when to try again; returns the earliest next attempt."""
    items = {d.serial: d for d in due}
    kind = getattr(error, "kind", "unavailable")
    asked = error.asked_delay if isinstance(error, WarrantyLookupError) else None
    earliest = now + timedelta(seconds=BACKOFF_MAX)
    with store.write() as session:
        existing = _existing(session, sorted(items))
        rows = []
        for serial, item in sorted(items.items()):
            before = existing.get(serial)
            data = dict(before["data"] if before else {})
            failures = int(data.get("failures", 0)) + 1
            delay = asked if asked is not None else backoff(failures)
            if kind in ("auth", "setup"):
                delay = max(delay, AUTH_RETRY)
            next_attempt = now + timedelta(seconds=delay)
            earliest = min(earliest, next_attempt)
            data.update(failures=failures, error_kind=kind)
            base = dict(before) if before is not None else {
                "serial": serial, "vendor": item.vendor, "source": item.vendor, "model": item.model,
                "start": None, "end": None, "service_level": "", "fetched_at": None, "fresh_until": None}
            rows.append({**base, "data": data, "last_error": str(error)[:2000], "next_attempt_at": next_attempt})
        _upsert(session, existing, rows)
    return earliest


def apply_manual_records(store: Store, desired: DesiredState | None, now: datetime, cache_days: int) -> int:
    """Make the applied revision's ``Warranty`` records win; a removed record gives the vendor's answer back.

    Returns how many rows changed. Idempotent: an unchanged revision writes nothing.
    """
    records: dict[str, dict[str, Any]] = {}
    if desired is not None:
        for loaded in sorted(desired.of_kind(Warranty).values(), key=lambda item: item.ref):
            spec = loaded.resource.spec
            records.setdefault(spec.serial, {
                "vendor": spec.vendor, "source": "manual", "model": spec.model, "start": spec.start, "end": spec.end,
                "service_level": spec.service_level or spec.kind,
                "manual": {"ref": loaded.ref, "client": loaded.scope, "location": str(loaded.location),
                           "kind": spec.kind}})
    changed = 0
    with store.write() as session:
        manual_rows: dict[str, dict[str, Any]] = {row["serial"]: dict(row) for row in session.execute(
            select(*asset_warranties.c).where(asset_warranties.c.source == "manual")).mappings()}
        existing = {**_existing(session, sorted(records)), **manual_rows}
        rows = []
        for serial, record in sorted(records.items()):
            before = existing.get(serial)
            data = {k: v for k, v in dict(before["data"] if before else {}).items()
                    if k not in ("failures", "error_kind")}
            data["manual"] = record.pop("manual")
            row = {"serial": serial, **record, "data": data, "fetched_at": None, "fresh_until": None,
                   "last_error": "", "next_attempt_at": None}
            if before is None or any(before[key] != value for key, value in row.items()):
                rows.append(row)
        _upsert(session, existing, rows)
        changed += len(rows)
        gone = sorted(set(manual_rows) - set(records))
        restored = []
        for serial in gone:
            data = {k: v for k, v in dict(manual_rows[serial]["data"]).items() if k != "manual"}
            vendor = data.get("vendor")
            if not isinstance(vendor, dict):
                continue
            result = result_from_json(serial, vendor)
            fetched_at = _parse_time(vendor.get("fetched_at")) or now
            restored.append({
                "serial": serial, "vendor": result.vendor, "source": result.vendor, "model": result.model,
                "start": result.start, "end": result.end, "service_level": result.service_level[:500], "data": data,
                "fetched_at": fetched_at, "fresh_until": fetched_at + timedelta(days=cache_days), "last_error": "",
                "next_attempt_at": None})
        _upsert(session, manual_rows, restored)
        dropped = sorted(set(gone) - {row["serial"] for row in restored})
        if dropped:  # nothing to fall back to: the vendor is asked at the next refresh
            session.execute(delete(asset_warranties).where(asset_warranties.c.serial.in_(dropped)))
        changed += len(gone)
    return changed


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None
