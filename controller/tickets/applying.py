"""Turning alerts into tickets: gather the facts, ask the rule engine, do what it decides.

:class:`TicketWorker` runs beside the reconcile loop. Each pass it reads the alerts that changed
since the previous pass (raised, raised again with news, cleared), and for each one builds what
:mod:`controller.tickets.rules` needs — the rules of the applied revision in the alert's scope,
the device (labels and the device groups it belongs to), the times the alert was raised
recently, the open ticket for the rule's deduplication key — and performs the decision on the
built-in ticket store (:mod:`controller.store.service_requests`): open, add a note, resolve,
annotate, or wait and look again. It also applies due escalation steps to unacknowledged tickets.

A pass is cheap when nothing changed (one query), so the worker runs every second. After a
restart every open alert without a ticket is looked at again, so a suppression window that
was running is not lost.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from controller.desired import DesiredState
from controller.store import (
    AlertRow,
    NewServiceRequest,
    Store,
    device_labels,
    get_agent,
    open_service_request,
    update_service_request,
)
from controller.store.tables import OPEN_SERVICE_REQUEST_STATES, alerts, service_requests
from controller.tickets.rules import (
    Alert,
    AlertEvent,
    AnnotateTicket,
    AppendNote,
    Decision,
    Device,
    EventKind,
    NoRule,
    OpenTicket,
    ResolveTicket,
    Rule,
    Ticket,
    Wait,
    decide,
    escalations_due,
    match_rule,
)
from schemas.alerting import AlertTicketRule
from schemas.clients import Client
from schemas.groups import DeviceGroup

log = logging.getLogger(__name__)

SEVERITY_PRIORITY = {"info": "low", "warning": "medium", "critical": "high"}
HISTORY_WINDOW = timedelta(days=7)
MAX_EVENTS_PER_PASS = 5_000


@dataclass
class PassReport:
    events: int = 0
    decisions: list[Decision] = field(default_factory=list)
    escalated: int = 0


class TicketWorker:
    """Applies alert-to-ticket rules to alert changes; see the module docstring."""

    def __init__(self, store: Store, desired: Any, *, interval: float = 1.0) -> None:
        self.store = store
        self.desired = desired
        """Callable returning the applied DesiredState (None before the first apply)."""
        self.interval = interval
        self._watermark: datetime | None = None
        self._seen: dict[int, tuple[str, datetime]] = {}
        self._waits: dict[int, datetime] = {}
        self._wake = threading.Event()
        self._lock = threading.Lock()

    def wake(self) -> None:
        """Run the next pass now (an alert was just raised or cleared)."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await asyncio.to_thread(self.run_pass)
            except Exception:
                log.exception("alert-to-ticket pass failed; trying again")
            await asyncio.to_thread(self._wake.wait, self.interval)
            self._wake.clear()

    def run_pass(self, now: datetime | None = None) -> PassReport:
        """One pass over the alerts that changed, the waits that are due, and the escalations."""
        with self._lock:
            state: DesiredState | None = self.desired()
            report = PassReport()
            if state is None:
                return report
            now = now or datetime.now(UTC)
            rules = load_rules(state)
            for kind, row in self._events(now):
                report.events += 1
                report.decisions.append(self._apply(kind, row, state, rules, now))
            report.escalated = self._escalate(rules, now)
            return report

    # -- events ----------------------------------------------------------------------------------

    def _events(self, now: datetime) -> list[tuple[EventKind, AlertRow]]:
        first = self._watermark is None
        statement = select(*alerts.c).order_by(alerts.c.updated_at, alerts.c.id).limit(MAX_EVENTS_PER_PASS)
        if first:
            statement = statement.where(alerts.c.state == "open", alerts.c.service_request_id.is_(None))
        else:
            statement = statement.where(alerts.c.updated_at >= self._watermark)
        with self.store.read() as session:
            rows = [AlertRow.model_validate(dict(row)) for row in session.execute(statement).mappings()]
        events: list[tuple[EventKind, AlertRow]] = []
        for row in rows:
            stamp = (row.state, row.updated_at)
            if self._seen.get(row.id) == stamp:
                continue  # the boundary row of the previous pass
            before = self._seen.get(row.id)
            self._seen[row.id] = stamp
            if row.state == "cleared":
                if before is not None or not first:
                    events.append(("cleared", row))
            elif first or before is None:
                events.append(("raised" if not first else "recheck", row))
            else:
                events.append(("repeated", row))
            self._watermark = max(self._watermark or row.updated_at, row.updated_at)
        if self._watermark is None:
            self._watermark = now
        due = [alert_id for alert_id, until in self._waits.items() if until <= now]
        if due:
            with self.store.read() as session:
                found = session.execute(select(*alerts.c).where(alerts.c.id.in_(due))).mappings().all()
            for mapping in found:
                waited = AlertRow.model_validate(dict(mapping))
                self._waits.pop(waited.id, None)
                if waited.state == "open":
                    events.append(("recheck", waited))
        if len(self._seen) > 100_000:
            self._seen.clear()
        return events

    # -- decisions -------------------------------------------------------------------------------

    def _apply(self, kind: EventKind, row: AlertRow, state: DesiredState, rules: list[Rule],
               now: datetime) -> Decision:
        alert = Alert(client=row.client, type=row.type, severity=row.severity, key=row.key, message=row.message,
                      raised_at=row.raised_at, cleared_at=row.cleared_at, detail=row.detail)
        device = self._device(row, state)
        match = match_rule(alert, device, rules)
        if isinstance(match, NoRule):
            return match
        ticket = self._open_ticket(row.client, match.dedup_key)
        decision = decide(AlertEvent(kind, now if kind == "recheck" else row.updated_at, alert),
                          self._history(row, now), device, match, ticket)
        ref = _ref(match.rule)
        if isinstance(decision, OpenTicket):
            routing, defaults = decision.routing, _ticket_defaults(state, row.client)
            open_service_request(self.store, NewServiceRequest(
                client=row.client, dedup_key=decision.dedup_key, title=decision.title, body=decision.body,
                priority=routing.priority or SEVERITY_PRIORITY.get(row.severity, defaults.priority),
                agent_id=row.agent_id, source_alert_id=row.id, board=routing.board or defaults.board,
                assignee=routing.assignee or defaults.assignee, rule=ref, created_by=f"rule {ref}",
                render_error="; ".join(decision.errors), connector=routing.connector), now)
        elif isinstance(decision, AppendNote | AnnotateTicket):
            self._link(row.id, decision.ticket.id)
            update_service_request(self.store, decision.ticket.id, row.client, actor=f"rule {ref}", now=now,
                                   note=decision.text)
        elif isinstance(decision, ResolveTicket):
            if self._others_open(decision.ticket.id, row.id):
                # Two drives low on one device share a ticket: it stays open until the last one clears.
                update_service_request(self.store, decision.ticket.id, row.client, actor=f"rule {ref}", now=now,
                                       note=f"{decision.note} Other alerts on this ticket are still open.")
            else:
                update_service_request(self.store, decision.ticket.id, row.client, actor=f"rule {ref}", now=now,
                                       state="resolved", note=decision.note)
        elif isinstance(decision, Wait):
            self._waits[row.id] = decision.until
        return decision

    def _link(self, alert_id: int, ticket_id: int) -> None:
        with self.store.write() as session:
            session.execute(update(alerts).where(alerts.c.id == alert_id).values(service_request_id=ticket_id))

    def _others_open(self, ticket_id: int, alert_id: int) -> bool:
        with self.store.read() as session:
            return session.execute(select(alerts.c.id).where(
                alerts.c.service_request_id == ticket_id, alerts.c.state == "open",
                alerts.c.id != alert_id).limit(1)).first() is not None

    def _device(self, row: AlertRow, state: DesiredState) -> Device:
        if row.agent_id is None:
            # A controller alert (a licence, a warranty) concerns no one device: its key stands in
            # for the device, so the default deduplication gives each licence its own ticket.
            return Device(id=row.key, hostname="", client=row.client)
        try:
            agent = get_agent(self.store, row.agent_id, None)
        except Exception:
            return Device(id=row.agent_id, hostname="", client=row.client)
        labels = device_labels(agent)
        groups = frozenset(loaded.name for (scope, _name), loaded in state.of_kind(DeviceGroup).items()
                           if scope in (None, row.client) and loaded.resource.spec.matches(labels, agent.agent_id))
        return Device(id=agent.agent_id, hostname=agent.hostname, client=agent.client, groups=groups,
                      labels=labels)

    def _history(self, row: AlertRow, now: datetime) -> list[datetime]:
        with self.store.read() as session:
            return list(session.execute(select(alerts.c.raised_at).where(
                alerts.c.key == row.key, alerts.c.raised_at >= now - HISTORY_WINDOW)).scalars())

    def _open_ticket(self, client: str, key: str) -> Ticket | None:
        table = service_requests.c
        with self.store.read() as session:
            found = session.execute(select(table.id, table.rule, table.dedup_key, table.created_at,
                                           table.acknowledged_at, table.escalation_steps)
                                    .where(table.client == client, table.open_key == key[:500])).first()
        if found is None:
            return None
        return Ticket(id=found.id, rule=found.rule or "", dedup_key=found.dedup_key, opened_at=found.created_at,
                      acknowledged=found.acknowledged_at is not None, escalation_steps_done=found.escalation_steps)

    # -- escalation ------------------------------------------------------------------------------

    def _escalate(self, rules: list[Rule], now: datetime) -> int:
        by_ref = {_ref(rule): rule for rule in rules if rule.spec.escalation}
        if not by_ref:
            return 0
        table = service_requests.c
        with self.store.read() as session:
            rows = session.execute(select(table.id, table.client, table.rule, table.dedup_key, table.created_at,
                                          table.acknowledged_at, table.escalation_steps)
                                   .where(table.state.in_(OPEN_SERVICE_REQUEST_STATES), table.rule.in_(list(by_ref)),
                                          table.acknowledged_at.is_(None))).all()
        escalated = 0
        for row in rows:
            rule = by_ref[row.rule]
            ticket = Ticket(id=row.id, rule=row.rule, dedup_key=row.dedup_key, opened_at=row.created_at,
                            escalation_steps_done=row.escalation_steps)
            for step in escalations_due(ticket, rule.spec, now):
                notify = f"; notify {', '.join(step.notify)}" if step.notify else ""
                update_service_request(self.store, row.id, row.client, actor=f"rule {row.rule}", now=now,
                                       priority=step.priority, assignee=step.assignee,
                                       note=f"Escalated: not acknowledged {step.after_minutes} minutes after "
                                            f"it opened{notify}.", notify=step.notify)
                with self.store.write() as session:
                    session.execute(update(service_requests).where(table.id == row.id)
                                    .values(escalation_steps=table.escalation_steps + 1))
                escalated += 1
        return escalated


def load_rules(state: DesiredState) -> list[Rule]:
    """The applied revision's AlertTicketRules, with their scope (None: MSP-wide)."""
    return [Rule(name=loaded.name, client=scope, spec=loaded.resource.spec)
            for (scope, _name), loaded in state.of_kind(AlertTicketRule).items()]


def _ref(rule: Rule) -> str:
    return f"{rule.client}.{rule.name}" if rule.client else rule.name


@dataclass(frozen=True)
class _Defaults:
    priority: str = "medium"
    board: str | None = None
    assignee: str | None = None


def _ticket_defaults(state: DesiredState, client: str) -> _Defaults:
    loaded = state.clients.get((None, client)) or state.clients.get((client, client))
    if loaded is None or not isinstance(loaded.resource, Client):
        return _Defaults()
    tickets = loaded.resource.spec.tickets
    return _Defaults(priority=tickets.priority, board=tickets.board, assignee=tickets.assignee)
