"""Licence compliance: seats owned (License resources in git) against seats used (installed software).

``compliance`` is pure: licences and the installs their ``consumedBy`` rules match, in; one
:class:`Compliance` per licence, out. ``refresh_licences`` is the shell around it: it reads the
matching installs set-based (one query per licence, never per device), writes asset_licenses and
raises or clears alerts that alert-to-ticket rules can turn into tickets:

- ``license.over-deployed`` when more devices use it than it has seats (critical);
- ``license.expiring`` at 90, 60 and 30 days (info, warning, critical) and ``license.expired``.
A ``consumedBy`` rule that matches no installed software at all is reported, so a typo does not
silently count zero seats.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

from sqlalchemy import delete, func, insert, select

from controller.desired import DesiredState, Loaded
from controller.store import Store, clear_alerts_except, raise_alert
from controller.store.tables import agents, asset_licenses, managed_software, software_inventory
from schemas.licenses import License

log = logging.getLogger(__name__)

ComplianceState = Literal["ok", "over-deployed", "expiring", "expired", "untracked", "unmatched"]
EXPIRY_THRESHOLDS = ((30, "critical"), (60, "warning"), (90, "info"))


@dataclass(frozen=True)
class Install:
    agent_id: str
    client: str
    hostname: str
    name: str


@dataclass(frozen=True)
class Compliance:
    ref: str
    client: str | None
    name: str
    product: str
    vendor: str
    seats: int
    expires: date | None
    source: str
    devices: tuple[str, ...] = ()
    """The devices using a seat: hostnames, with the agent id where two share a hostname."""
    states: tuple[ComplianceState, ...] = ()
    days_left: int | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def used(self) -> int:
        return len(self.devices)

    @property
    def state(self) -> ComplianceState:
        """The most pressing state, for tables."""
        for candidate in ("expired", "over-deployed", "expiring", "unmatched", "untracked"):
            if candidate in self.states:
                return candidate
        return "ok"


def like_pattern(glob: str) -> str:
    """A consumedBy name ('Microsoft 365*') as a case-insensitive SQL LIKE pattern."""
    escaped = glob.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%")


def _device_names(installs: Iterable[Install]) -> tuple[str, ...]:
    """One name per device using a seat (a device counts once however many matching apps it has);
    the hostname, with the agent id added where two devices share one."""
    hostnames = {install.agent_id: install.hostname or install.agent_id for install in installs}
    taken: dict[str, int] = {}
    for hostname in hostnames.values():
        taken[hostname] = taken.get(hostname, 0) + 1
    return tuple(sorted(name if taken[name] == 1 else f"{name} ({agent_id})"
                        for agent_id, name in hostnames.items()))


def compliance(licence: Loaded[License], installs: Iterable[Install], today: date) -> Compliance:
    spec = licence.resource.spec
    devices = _device_names(installs)
    states: list[ComplianceState] = []
    notes: list[str] = []
    if spec.consumed_by is None:
        states.append("untracked")
        notes.append("no consumedBy rule: seats in use cannot be counted")
    elif not devices:
        states.append("unmatched")
        notes.append(f"consumedBy '{spec.consumed_by.software_name}' matches no installed software")
    if len(devices) > spec.seats:
        states.append("over-deployed")
        notes.append(f"{len(devices)} devices use {spec.seats} seat{'s' if spec.seats != 1 else ''}: "
                     f"{len(devices) - spec.seats} unlicensed install{'s' if len(devices) - spec.seats != 1 else ''}")
    days_left = (spec.expires - today).days if spec.expires is not None else None
    if days_left is not None:
        if days_left < 0:
            states.append("expired")
            notes.append(f"expired {-days_left} days ago")
        elif days_left <= EXPIRY_THRESHOLDS[-1][0]:
            states.append("expiring")
            notes.append(f"expires in {days_left} days")
    return Compliance(ref=licence.ref, client=licence.scope, name=licence.name, product=spec.product,
                      vendor=spec.vendor, seats=spec.seats, expires=spec.expires, source=str(licence.location),
                      devices=devices, states=tuple(states), days_left=days_left, notes=tuple(notes))


def _installs(store: Store, licence: Loaded[License]) -> list[Install]:
    """Installs the licence's rule matches: software the OS reports, and packages Fleetward
    installed (its receipts), which consume a seat like any other install."""
    rule = licence.resource.spec.consumed_by
    if rule is None:
        return []
    pattern = like_pattern(rule.software_name)
    sw, managed = software_inventory.c, managed_software.c
    reported = (select(sw.agent_id, sw.client, agents.c.hostname, sw.name)
                .join(agents, agents.c.id == sw.agent_id)
                .where(agents.c.revoked_at.is_(None), sw.name_key.like(pattern, escape="\\")))
    ours = (select(managed.agent_id, managed.client, agents.c.hostname, managed.package)
            .join(agents, agents.c.id == managed.agent_id)
            .where(agents.c.revoked_at.is_(None), func.lower(managed.package).like(pattern, escape="\\")))
    if licence.scope is not None:
        reported = reported.where(sw.client == licence.scope)
        ours = ours.where(managed.client == licence.scope)
    statements = [reported]
    if rule.publisher:
        statements = [reported.where(func.lower(sw.publisher).like(like_pattern(rule.publisher), escape="\\"))]
    else:
        statements.append(ours)  # receipts carry no publisher: a rule that names one skips them
    with store.read() as session:
        return [Install(*row) for statement in statements for row in session.execute(statement)]


def refresh_licences(store: Store, desired: DesiredState | None, now: datetime) -> list[Compliance]:
    """Recompute every licence's compliance, store it, and raise or clear its alerts."""
    licences: Sequence[Loaded[License]] = (
        sorted(desired.of_kind(License).values(), key=lambda item: item.ref) if desired else [])
    results = [compliance(licence, _installs(store, licence), now.date()) for licence in licences]
    with store.write() as session:
        session.execute(delete(asset_licenses))
        if results:
            session.execute(insert(asset_licenses), [
                {"id": r.ref, "client": r.client, "name": r.name, "product": r.product, "vendor": r.vendor,
                 "seats": r.seats, "seats_used": r.used, "expires": r.expires, "state": r.state,
                 "detail": {"states": list(r.states), "notes": list(r.notes), "devices": list(r.devices[:500]),
                            "days_left": r.days_left},
                 "source": r.source, "updated_at": now}
                for r in results])
    current: set[str] = set()
    for result in results:
        client = result.client or "msp"
        if "over-deployed" in result.states:
            key = f"license:{result.ref}:over-deployed"
            current.add(key)
            raise_alert(store, client=client, agent_id=None, type="license.over-deployed", severity="critical",
                        key=key, now=now,
                        message=f"{result.product}: {result.used} devices use {result.seats} "
                                f"seat{'s' if result.seats != 1 else ''} (licence {result.ref})",
                        detail={"license": result.ref, "seats": result.seats, "used": result.used,
                                "devices": list(result.devices[:100])})
        if result.days_left is not None and result.days_left <= EXPIRY_THRESHOLDS[-1][0]:
            expired = result.days_left < 0
            key = f"license:{result.ref}:{'expired' if expired else 'expiring'}"
            current.add(key)
            severity = "critical" if expired else next(s for days, s in EXPIRY_THRESHOLDS if result.days_left <= days)
            raise_alert(store, client=client, agent_id=None, type="license.expired" if expired else "license.expiring",
                        severity=severity, key=key, now=now,  # type: ignore[arg-type]
                        message=(f"{result.product} expired on {result.expires}" if expired else
                                 f"{result.product} expires on {result.expires} ({result.days_left} days)"),
                        detail={"license": result.ref, "expires": str(result.expires), "days_left": result.days_left})
    cleared = clear_alerts_except(store, "license:", current, now)
    if cleared:
        log.info("cleared %d licence alerts", cleared)
    return results


def unmatched_rules(store: Store, desired: DesiredState) -> list[tuple[Loaded[License], str]]:
    """Licences whose consumedBy rule matches no installed software: (licence, warning)."""
    found = []
    for licence in sorted(desired.of_kind(License).values(), key=lambda item: item.ref):
        rule = licence.resource.spec.consumed_by
        if rule is not None and not _installs(store, licence):
            where = f"clients/{licence.scope}/" if licence.scope else "any client"
            found.append((licence, f"consumedBy '{rule.software_name}' matches no software installed on the "
                                   f"devices of {where}; the licence counts no seats"))
    return found
