"""Alerts: raised by agent monitors or by the controller (licences, warranties), one open alert per key.

``raise_alert`` is idempotent for an open alert with the same key (it refreshes message and
detail); ``clear_alert`` closes it. Alert-to-ticket rules (a later part) turn open alerts into
service requests; ``service_request_id`` links them.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from controller.errors import NotFound
from controller.store.engine import Store
from controller.store.statements import chunks
from controller.store.tables import alerts

Severity = Literal["info", "warning", "critical"]


class AlertRow(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    client: str
    agent_id: str | None
    type: str
    severity: str
    key: str
    state: str
    message: str
    detail: dict[str, Any]
    raised_at: datetime
    updated_at: datetime
    cleared_at: datetime | None
    service_request_id: int | None


def raise_alert(store: Store, *, client: str, agent_id: str | None, type: str, severity: Severity,
                key: str, message: str, detail: dict[str, Any] | None = None, now: datetime,
                observed_at: datetime | None = None) -> tuple[int, bool]:
    """Open the alert ``key`` or refresh it if open; (alert id, whether it was newly raised).

    ``raised_at`` is ``observed_at`` when given (an agent saw it earlier and queued it while the
    controller was unreachable), else ``now``. ``updated_at`` is always ``now``, the controller's
    time of the change: the ticket worker follows changes by it, so a late-delivered alert dated
    in the past would otherwise fall behind its watermark and never become a ticket.
    """
    with store.write() as session:
        return _raise(session, client=client, agent_id=agent_id, type=type, severity=severity, key=key,
                      message=message, detail=detail, now=now, observed_at=observed_at or now)


def clear_alert(store: Store, key: str, now: datetime, *, observed_at: datetime | None = None) -> int | None:
    """Clear the open alert ``key``; its id when one was open (None: nothing to clear). ``cleared_at`` is
    ``observed_at`` when given, ``updated_at`` always ``now`` (see :func:`raise_alert`)."""
    with store.write() as session:
        return _clear(session, key, now, observed_at=observed_at or now)


@dataclass(frozen=True)
class AlertChange:
    """One raise or clear of an agent's report, for :func:`record_alert_changes`."""

    key: str
    type: str
    severity: Severity
    state: Literal["raised", "cleared"]
    message: str
    detail: dict[str, Any]
    observed_at: datetime
    """When the agent saw it: the alert's raised_at or cleared_at."""


@dataclass(frozen=True)
class ReportedAlerts:
    """One agent's report for :func:`record_alert_reports`: its changes, to apply in order."""

    client: str
    agent_id: str | None
    changes: Sequence[AlertChange]
    now: datetime
    """When the controller took the report: the ``updated_at`` of every alert it changes."""


def record_alert_changes(store: Store, *, client: str, agent_id: str | None,
                         changes: Sequence[AlertChange], now: datetime) -> list[int]:
    """Raise or clear each alert in order, all in one transaction; the ids of the alerts touched.
    ``raised_at``/``cleared_at`` keep each change's ``observed_at``, ``updated_at`` is ``now`` (see
    :func:`raise_alert`)."""
    (touched,) = record_alert_reports(store, [ReportedAlerts(client, agent_id, changes, now)])
    return touched


def record_alert_reports(store: Store, reports: Sequence[ReportedAlerts]) -> list[list[int]]:
    """Many reports in one transaction; for each, the ids of the alerts it touched, in its order.

    The outcome is the one the reports would have written one after another in the given
    order: a key raised, cleared and raised again within the batch leaves a cleared alert and a
    newer open one. One transaction for many reports, not one each: a storm of reports then
    costs SQLite's single writer one turn per batch, and PostgreSQL a handful of statements per
    batch (one read of every key's open alert, one statement each for the refreshes, the clears
    and the new alerts) instead of a transaction per report."""
    if not any(report.changes for report in reports):  # not even a turn at SQLite's writer
        return [[] for _report in reports]
    with store.write() as session:
        return _record(session, reports)


@dataclass
class _Row:
    """A key's open alert as the batch has left it so far: stored before (``id``) or new (``values``)."""

    id: int | None
    message: str
    severity: str
    values: dict[str, Any] | None = None
    """A new alert's columns as the batch leaves them (it is inserted once, at the end)."""


@dataclass
class _Writes:
    """What a batch writes, decided before anything is written."""

    touched: list[list[_Row]] = field(default_factory=list)
    """Each report's alerts, in its order."""
    refreshes: dict[int, dict[str, Any]] = field(default_factory=dict)
    """Stored alerts whose message or severity changed, by id: the last change of each."""
    clears: list[dict[str, Any]] = field(default_factory=list)
    """Keys whose stored open alert is cleared."""
    new_rows: list[_Row] = field(default_factory=list)
    """Alerts raised by the batch, in the order raised."""


def _record(session: Session, reports: Sequence[ReportedAlerts]) -> list[list[int]]:
    keys = sorted({change.key for report in reports for change in report.changes})
    open_rows: dict[str, _Row] = {}
    for some in chunks(keys):
        for found in session.execute(_OPEN_OF_KEYS, {"of_keys": some}):
            open_rows.setdefault(found.key, _Row(int(found.id), found.message, found.severity))
    writes = _decide(reports, open_rows)
    # Stored alerts first: a key's stored alert comes before any new one of the same key, so
    # clearing it by key cannot reach a new one. New alerts go in in the order they were raised.
    if writes.refreshes:
        session.execute(_REFRESH, [writes.refreshes[alert_id] for alert_id in sorted(writes.refreshes)])
    if writes.clears:
        session.execute(_CLEAR_OPEN, writes.clears)
    if writes.new_rows:
        values = [row.values for row in writes.new_rows if row.values is not None]  # every new row has them
        created = session.execute(_INSERT_MANY, values).scalars().all()
        for row, alert_id in zip(writes.new_rows, created, strict=True):
            row.id = int(alert_id)
    return [[row.id for row in rows if row.id is not None] for rows in writes.touched]


def _decide(reports: Sequence[ReportedAlerts], open_rows: dict[str, _Row]) -> _Writes:
    """Every change in order against the open alerts as the batch has left them so far
    (``open_rows``, by key, updated as it goes)."""
    writes = _Writes()
    for report in reports:
        rows: list[_Row] = []
        for change in report.changes:
            row = open_rows.get(change.key)
            if change.state == "raised":
                if row is None:
                    row = open_rows[change.key] = _Row(None, change.message, change.severity, {
                        "client": report.client, "agent_id": report.agent_id, "type": change.type,
                        "severity": change.severity, "key": change.key, "state": "open",
                        "message": change.message, "detail": change.detail, "raised_at": change.observed_at,
                        "updated_at": report.now, "cleared_at": None})
                    writes.new_rows.append(row)
                elif row.message != change.message or row.severity != change.severity:
                    row.message, row.severity = change.message, change.severity
                    if row.values is not None:
                        row.values.update(message=change.message, severity=change.severity, detail=change.detail,
                                          updated_at=report.now)
                    else:
                        assert row.id is not None
                        writes.refreshes[row.id] = {"alert_id": row.id, "new_message": change.message,
                                                    "new_severity": change.severity, "new_detail": change.detail,
                                                    "now": report.now}
                rows.append(row)
            elif row is not None:
                del open_rows[change.key]
                if row.values is not None:
                    row.values.update(state="cleared", cleared_at=change.observed_at, updated_at=report.now)
                else:
                    writes.clears.append({"of_key": change.key, "observed_at": change.observed_at,
                                          "now": report.now})
                rows.append(row)
        writes.touched.append(rows)
    return writes


# Built once with bind parameters: building a statement (and its cache key) on every call cost
# more than running it, and a storm of reports runs them tens of thousands of times.
_OPEN_BY_KEY = select(alerts.c.id, alerts.c.message, alerts.c.severity) \
    .where(alerts.c.key == bindparam("of_key"), alerts.c.state == "open")
_REFRESH = update(alerts).where(alerts.c.id == bindparam("alert_id")).values(
    message=bindparam("new_message"), severity=bindparam("new_severity"), detail=bindparam("new_detail"),
    updated_at=bindparam("now"))
_INSERT = alerts.insert().values(
    client=bindparam("new_client"), agent_id=bindparam("new_agent_id"), type=bindparam("new_type"),
    severity=bindparam("new_severity"), key=bindparam("new_key"), state="open", message=bindparam("new_message"),
    detail=bindparam("new_detail"), raised_at=bindparam("observed_at"), updated_at=bindparam("now"),
    cleared_at=None).returning(alerts.c.id)
_CLEAR_OPEN = update(alerts).where(alerts.c.key == bindparam("of_key"), alerts.c.state == "open") \
    .values(state="cleared", cleared_at=bindparam("observed_at"), updated_at=bindparam("now"))
_CLEAR = _CLEAR_OPEN.returning(alerts.c.id)
_OPEN_OF_KEYS = select(alerts.c.id, alerts.c.key, alerts.c.message, alerts.c.severity) \
    .where(alerts.c.key.in_(bindparam("of_keys", expanding=True)), alerts.c.state == "open").order_by(alerts.c.id)
# Many rows in one statement; ids come back in the order of the rows given (and are assigned in it).
_INSERT_MANY = alerts.insert().returning(alerts.c.id, sort_by_parameter_order=True)


def _raise(session: Session, *, client: str, agent_id: str | None, type: str, severity: str, key: str,
           message: str, detail: dict[str, Any] | None, now: datetime, observed_at: datetime) -> tuple[int, bool]:
    found = session.execute(_OPEN_BY_KEY, {"of_key": key}).first()
    if found is not None:
        if found.message != message or found.severity != severity:
            session.execute(_REFRESH, {"alert_id": found.id, "new_message": message, "new_severity": severity,
                                       "new_detail": detail or {}, "now": now})
        return int(found.id), False
    created = session.execute(_INSERT, {
        "new_client": client, "new_agent_id": agent_id, "new_type": type, "new_severity": severity,
        "new_key": key, "new_message": message, "new_detail": detail or {}, "observed_at": observed_at,
        "now": now}).scalar_one()
    return int(created), True


def _clear(session: Session, key: str, now: datetime, *, observed_at: datetime) -> int | None:
    cleared = session.execute(_CLEAR, {"of_key": key, "observed_at": observed_at, "now": now}).scalars().all()
    return int(cleared[0]) if cleared else None


def clear_alerts_except(store: Store, prefix: str, keep: Collection[str], now: datetime) -> int:
    """Clear every open alert whose key starts with ``prefix`` and is not in ``keep``."""
    with store.write() as session:
        open_keys = session.execute(select(alerts.c.key).where(alerts.c.state == "open",
                                                               alerts.c.key.startswith(prefix))).scalars().all()
        gone = [key for key in open_keys if key not in keep]
        if gone:
            session.execute(update(alerts).where(alerts.c.key.in_(gone), alerts.c.state == "open")
                            .values(state="cleared", cleared_at=now, updated_at=now))
        return len(gone)


def list_alerts(store: Store, client: str | None, *, state: str | None = None, agent_id: str | None = None,
                type: str | None = None, severity: str | None = None, since: datetime | None = None,
                before_id: int | None = None, limit: int = 500) -> list[AlertRow]:
    """Alerts newest first, filtered; page with ``before_id`` = the last id of the previous page."""
    statement = select(*alerts.c).order_by(alerts.c.id.desc()).limit(max(1, min(limit, 5000)))
    if severity is not None:
        statement = statement.where(alerts.c.severity == severity)
    if since is not None:
        statement = statement.where(alerts.c.updated_at >= since)
    if before_id is not None:
        statement = statement.where(alerts.c.id < before_id)
    if client is not None:
        statement = statement.where(alerts.c.client == client)
    if state is not None:
        statement = statement.where(alerts.c.state == state)
    if agent_id is not None:
        statement = statement.where(alerts.c.agent_id == agent_id)
    if type is not None:
        statement = statement.where(alerts.c.type == type)
    with store.read() as session:
        return [AlertRow.model_validate(dict(row)) for row in session.execute(statement).mappings()]


def get_alert(store: Store, alert_id: int, client: str | None) -> AlertRow:
    """One alert; NotFound when it does not exist or belongs to another client."""
    statement = select(*alerts.c).where(alerts.c.id == alert_id)
    if client is not None:
        statement = statement.where(alerts.c.client == client)
    with store.read() as session:
        row = session.execute(statement).mappings().first()
    if row is None:
        raise NotFound(f"alert {alert_id} does not exist", hint="list alerts with GET /api/alerts")
    return AlertRow.model_validate(dict(row))
