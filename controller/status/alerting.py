"""The alert part of a status snapshot: open alerts and open tickets per client, each device's
recent alerts. Three set-based reads, each capped, so a noisy fleet cannot make a status round
unbounded.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select

from controller.status.snapshot import AlertLine, TicketLine
from controller.store import Store
from controller.store.tables import OPEN_SERVICE_REQUEST_STATES, agents, alerts, service_requests

MAX_OPEN_ROWS = 5_000
MAX_HISTORY_ROWS = 20_000
HISTORY_PER_DEVICE = 20
HISTORY_DAYS = 30


@dataclass(frozen=True)
class AlertSummaries:
    open_alerts: dict[str, tuple[AlertLine, ...]]
    open_tickets: dict[str, tuple[TicketLine, ...]]
    device_history: dict[str, tuple[AlertLine, ...]]


def collect_alerts(store: Store, now: datetime) -> AlertSummaries:
    columns = (alerts.c.id, alerts.c.client, alerts.c.agent_id, alerts.c.type, alerts.c.severity, alerts.c.state,
               alerts.c.message, agents.c.hostname, alerts.c.raised_at, alerts.c.cleared_at)
    joined = alerts.outerjoin(agents, agents.c.id == alerts.c.agent_id)
    with store.read() as session:
        open_rows = session.execute(select(*columns).select_from(joined).where(alerts.c.state == "open")
                                    .order_by(alerts.c.id.desc()).limit(MAX_OPEN_ROWS)).all()
        history_rows = session.execute(
            select(*columns).select_from(joined)
            .where(alerts.c.agent_id.is_not(None),
                   or_(alerts.c.state == "open", alerts.c.updated_at >= now - timedelta(days=HISTORY_DAYS)))
            .order_by(alerts.c.id.desc()).limit(MAX_HISTORY_ROWS)).all()
        ticket_rows = session.execute(
            select(service_requests.c.id, service_requests.c.client, service_requests.c.title,
                   service_requests.c.state, service_requests.c.priority, service_requests.c.assignee,
                   service_requests.c.created_at)
            .where(service_requests.c.state.in_(OPEN_SERVICE_REQUEST_STATES))
            .order_by(service_requests.c.id.desc()).limit(MAX_OPEN_ROWS)).all()
    open_alerts: dict[str, list[AlertLine]] = defaultdict(list)
    for row in open_rows:
        open_alerts[row.client].append(_line(row))
    history: dict[str, list[AlertLine]] = defaultdict(list)
    for row in history_rows:
        if len(history[row.agent_id]) < HISTORY_PER_DEVICE:
            history[row.agent_id].append(_line(row))
    tickets: dict[str, list[TicketLine]] = defaultdict(list)
    for ticket in ticket_rows:
        tickets[ticket.client].append(TicketLine(ticket.id, ticket.title, ticket.state, ticket.priority,
                                                 ticket.assignee or "", ticket.created_at))
    return AlertSummaries(open_alerts={client: tuple(lines) for client, lines in open_alerts.items()},
                          open_tickets={client: tuple(lines) for client, lines in tickets.items()},
                          device_history={agent: tuple(lines) for agent, lines in history.items()})


def _line(row: Any) -> AlertLine:
    return AlertLine(id=row.id, type=row.type, severity=row.severity, state=row.state, message=row.message,
                     hostname=row.hostname or "", raised_at=row.raised_at, cleared_at=row.cleared_at)
