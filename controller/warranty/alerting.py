"""Warranty alerts: a device whose warranty ends within 90 days, or ended; a vendor refusing our keys.

Decided by :func:`warranty_alerts` (pure: rows in, alerts out), then raised and cleared by
:func:`refresh_alerts` the way licence alerts are, so alert-to-ticket rules can turn them
into tickets:

- ``warranty.expiring`` per device at 90, 60 and 30 days (info, warning, critical), one
  alert whose severity rises as the end comes closer;
- ``warranty.expired`` per device once the end has passed (critical);
- ``warranty.lookup-failed`` per vendor while it refuses the credentials in fleet.yaml.

Every key starts with ``warranty:``; an alert whose condition is gone is cleared.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import select

from controller.store import Store, clear_alerts_except, raise_alert
from controller.store.tables import agents, alerts, asset_warranties, hardware_inventory

KEY_PREFIX = "warranty:"
EXPIRY_THRESHOLDS: tuple[tuple[int, Literal["critical", "warning", "info"]], ...] = (
    (30, "critical"), (60, "warning"), (90, "info"))
HORIZON_DAYS = EXPIRY_THRESHOLDS[-1][0]


@dataclass(frozen=True)
class DeviceWarranty:
    agent_id: str
    client: str
    hostname: str
    serial: str
    vendor: str
    end: date


@dataclass(frozen=True)
class AlertToRaise:
    key: str
    client: str
    agent_id: str | None
    type: str
    severity: Literal["critical", "warning", "info"]
    message: str
    detail: dict[str, Any] = field(default_factory=dict)


def warranty_alerts(devices: Iterable[DeviceWarranty], refused_vendors: Iterable[tuple[str, str]],
                    today: date) -> list[AlertToRaise]:
    """The alerts that should be open: ``refused_vendors`` are (vendor, last error) pairs."""
    wanted: list[AlertToRaise] = []
    for device in sorted(devices, key=lambda d: (d.agent_id, d.serial)):
        days_left = (device.end - today).days
        if days_left > HORIZON_DAYS:
            continue
        detail = {"serial": device.serial, "vendor": device.vendor, "end": device.end.isoformat(),
                  "days_left": days_left, "hostname": device.hostname}
        if days_left < 0:
            wanted.append(AlertToRaise(
                f"{KEY_PREFIX}{device.agent_id}:expired", device.client, device.agent_id, "warranty.expired",
                "critical", f"{device.hostname}: warranty ({device.vendor}, serial {device.serial}) ended on "
                            f"{device.end}", detail))
        else:
            severity = next(s for days, s in EXPIRY_THRESHOLDS if days_left <= days)
            wanted.append(AlertToRaise(
                f"{KEY_PREFIX}{device.agent_id}:expiring", device.client, device.agent_id, "warranty.expiring",
                severity, f"{device.hostname}: warranty ({device.vendor}, serial {device.serial}) ends on "
                          f"{device.end} ({days_left} days)", detail))
    for vendor, error in sorted(set(refused_vendors)):
        wanted.append(AlertToRaise(
            f"{KEY_PREFIX}vendor:{vendor}:auth", "msp", None, "warranty.lookup-failed", "warning",
            f"{vendor} warranty lookups fail: {error}"[:1000], {"vendor": vendor}))
    return wanted


def _devices(store: Store, horizon: date) -> list[DeviceWarranty]:
    hw, aw = hardware_inventory.c, asset_warranties.c
    statement = (select(agents.c.id, agents.c.client, agents.c.hostname, hw.serial, aw.vendor, aw.end)
                 .join(hardware_inventory, hw.agent_id == agents.c.id)
                 .join(asset_warranties, aw.serial == hw.serial)
                 .where(agents.c.revoked_at.is_(None), aw.end.is_not(None), aw.end <= horizon))
    with store.read() as session:
        return [DeviceWarranty(*row) for row in session.execute(statement)]


def _refused_vendors(store: Store) -> set[tuple[str, str]]:
    aw = asset_warranties.c
    with store.read() as session:
        rows = session.execute(select(aw.source, aw.last_error, aw.data)
                               .where(aw.source != "manual", aw.last_error != "")).all()
    refused: dict[str, str] = {}
    for source, last_error, data in rows:
        if isinstance(data, dict) and data.get("error_kind") in ("auth", "setup"):
            refused.setdefault(source, last_error)
    return set(refused.items())


def refresh_alerts(store: Store, now: datetime) -> list[AlertToRaise]:
    """Raise the warranty alerts that hold now and clear the others; returns the open ones.

    Alerts already open with the same severity and message are left alone, so a refresh that
    changes nothing writes nothing.
    """
    wanted = warranty_alerts(_devices(store, now.date() + timedelta(days=HORIZON_DAYS)), _refused_vendors(store),
                             now.date())
    with store.read() as session:
        open_now = {(key, severity, message) for key, severity, message in session.execute(
            select(alerts.c.key, alerts.c.severity, alerts.c.message)
            .where(alerts.c.state == "open", alerts.c.key.startswith(KEY_PREFIX)))}
    for alert in wanted:
        if (alert.key, alert.severity, alert.message) in open_now:
            continue
        raise_alert(store, client=alert.client, agent_id=alert.agent_id, type=alert.type, severity=alert.severity,
                    key=alert.key, message=alert.message, detail=alert.detail, now=now)
    clear_alerts_except(store, KEY_PREFIX, {alert.key for alert in wanted}, now)
    return wanted
