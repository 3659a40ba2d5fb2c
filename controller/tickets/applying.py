"""Turning alerts into tickets: gather the facts, ask the rule engine, do what it decides.

:class:`TicketWorker` runs beside the reconcile loop. Each pass it reads the alerts that changed
(raised, raised again with news, cleared), and for each one builds what
:mod:`controller.tickets.rules` needs — the rules of the applied revision in the alert's scope,
the device (labels and the device groups it belongs to), the times the alert was raised
recently, the open ticket for the rule's deduplication key — and performs the decision on the
built-in ticket store (:mod:`controller.store.service_requests`): open, add a note, resolve,
annotate, or wait and look again. It also applies due escalation steps to unacknowledged tickets.

How it hears of changes, fastest first:

- The agent alert route calls :meth:`TicketWorker.alerts_changed` with the ids it stored, after
  its commit: the worker wakes at once and reads exactly those rows. This is what keeps an
  alert-to-ticket latency well under a second, and it also covers an alert the agent observed
  long ago (from its outbox) and so dates in the past.
- A periodic pass (every ``interval``, 1 s) scans for alerts changed since the last scan, with an
  overlap so a row committed late (its time taken before a slower writer's commit) is not
  skipped: alerts the controller raises itself (licences, warranties) and those stored through
  another replica. It also re-checks due suppression windows and applies escalations.
- After a restart the first pass looks again at every open alert without a ticket, so a
  suppression window that was running is not lost.

A row is acted on once per change (its state and ``updated_at``), whichever way it arrived.
Under a storm a pass costs a few queries per batch of alerts, not per alert: the devices, the
open tickets and the raise history of a whole batch are read at once, and the batch's decisions
are written in one transaction.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from controller.desired import DesiredState
from controller.store import (
    AgentPublic,
    AlertRow,
    NewServiceRequest,
    ServiceRequestRow,
    Store,
    device_labels,
    get_agents,
    open_service_request_in,
    update_service_request,
)
from controller.store.service_requests import (
    NewNote,
    Resolution,
    link_alerts_in,
    note_service_requests_in,
    open_service_requests_in,
    resolve_service_requests_in,
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
    RuleMatch,
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
BATCH_SIZE = 50
"""Alerts decided and written per transaction: enough that a storm costs few commits, few enough that
a batch's tickets become visible within a fraction of a second and SQLite's write lock is never held
long against the API."""
WRITE_BUDGET = {"sqlite": 0.05, "postgresql": 0.25}
"""Seconds one batch's write transaction may run before it commits and leaves the rest to the next.
SQLite: under a storm the API's request threads compete for the interpreter, and a transaction
stretched by that would hold SQLite's one write lock against them for seconds. PostgreSQL has no
such lock (only the rows written are, against an API refreshing one of those alerts), and every
transaction re-reads the batch's open tickets and history: a longer one costs fewer round trips."""
SCAN_OVERLAP = timedelta(seconds=10)
"""How far before the last scan's newest row the periodic scan looks again (rows already acted
on are skipped), so a row whose time was taken before another's but committed after is not lost."""
MAX_SEEN = 200_000

Event = tuple[EventKind, AlertRow]
_Matched = tuple[EventKind, AlertRow, Alert, Device, RuleMatch | NoRule]


@dataclass
class PassReport:
    events: int = 0
    decisions: list[Decision] = field(default_factory=list)
    escalated: int = 0


@dataclass
class _Batch:
    """What one batch of events needs from the store, read once for the batch, and the writes it
    holds back to send together (:meth:`flush`).

    New tickets, notes, alert links and resolutions are held back: written one by one they cost a
    round trip each (a resolution six), which on a loaded PostgreSQL is what left the worker tens of
    seconds behind a storm. They are sent before anything that could read or change what they write
    (a second event for a held-back ticket's key, a new ticket for the key of one being resolved,
    a second resolution of one ticket), and at the end of the transaction: links, notes,
    resolutions, then new tickets, so a ticket's notes precede its resolution and a key's old
    ticket is resolved before its new one opens. Only the order of writes to different tickets
    changes, which nothing reads.

    ``open_alerts``: for each ticket of the batch, the alerts on it that are open (read with the
    batch, then kept up to date as the batch links and clears alerts), so "are other alerts on this
    ticket still open?" costs no round trip per clear."""

    tickets: dict[tuple[str, str], Ticket]
    history: dict[str, list[datetime]]
    open_alerts: dict[int, set[int]] = field(default_factory=dict)
    opens: dict[tuple[str, str], NewServiceRequest] = field(default_factory=dict)
    notes: list[NewNote] = field(default_factory=list)
    links: list[tuple[int, int]] = field(default_factory=list)
    resolves: dict[int, tuple[tuple[str, str], Resolution]] = field(default_factory=dict)

    def link(self, alert: AlertRow, ticket_id: int) -> None:
        self.links.append((alert.id, ticket_id))
        if alert.state == "open" and ticket_id in self.open_alerts:
            self.open_alerts[ticket_id].add(alert.id)

    def others_open(self, ticket_id: int, alert_id: int) -> bool | None:
        """Whether an alert other than ``alert_id`` is open on the ticket; None when the batch does not know."""
        found = self.open_alerts.get(ticket_id)
        return None if found is None else bool(found - {alert_id})

    def cleared(self, alert_id: int) -> None:
        for open_ids in self.open_alerts.values():
            open_ids.discard(alert_id)

    def flush(self, session: Session, now: datetime) -> None:
        if self.links:
            link_alerts_in(session, self.links)
            self.links = []
        if self.notes:
            note_service_requests_in(session, self.notes, now)
            self.notes = []
        if self.resolves:
            resolve_service_requests_in(session, [resolution for _slot, resolution in self.resolves.values()], now)
            self.resolves = {}
        if self.opens:
            slots, news = list(self.opens), list(self.opens.values())
            self.opens = {}
            for slot, new, (opened, is_new) in zip(slots, news, open_service_requests_in(session, news, now),
                                                   strict=True):
                self.opened(slot, new, opened, is_new)

    def opened(self, slot: tuple[str, str], new: NewServiceRequest, opened: ServiceRequestRow, is_new: bool) -> None:
        """The ticket ``new`` asked for is written: ``opened`` (``is_new``), or another writer's open one."""
        self.tickets[slot] = Ticket(id=opened.id, rule=opened.rule or "", dedup_key=opened.dedup_key,
                                    opened_at=opened.created_at, acknowledged=opened.acknowledged_at is not None,
                                    escalation_steps_done=opened.escalation_steps)
        if new.source_alert_id is None:
            return
        if opened.id in self.open_alerts:
            self.open_alerts[opened.id].add(new.source_alert_id)
        elif is_new:  # nothing else is on a ticket just opened; another writer's is asked about when it matters
            self.open_alerts[opened.id] = {new.source_alert_id}


class TicketWorker:
    """Applies alert-to-ticket rules to alert changes; see the module docstring."""

    def __init__(self, store: Store, desired: Any, *, interval: float = 1.0) -> None:
        self.store = store
        self.desired = desired
        """Callable returning the applied DesiredState (None before the first apply)."""
        self.interval = interval
        self._watermark: datetime | None = None
        self._scan_from: datetime | None = None
        self._seen: dict[int, tuple[str, datetime]] = {}
        self._waits: dict[int, datetime] = {}
        self._pending: set[int] = set()
        self._pending_lock = threading.Lock()
        self._wake = threading.Event()
        self._lock = threading.Lock()

    def wake(self) -> None:
        """Run the next pass now (an alert was just raised or cleared)."""
        self._wake.set()

    def alerts_changed(self, alert_ids: Iterable[int]) -> None:
        """These alerts were just stored (raised, refreshed or cleared, committed): act on them now.

        Thread-safe and cheap: the API calls it after its commit; the worker reads the rows."""
        with self._pending_lock:
            self._pending.update(alert_ids)
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Pass on every wake-up; a full pass (scan, due waits, escalations) at least every ``interval``."""
        next_full = 0.0
        while not stop.is_set():
            full = time.monotonic() >= next_full
            if full:
                next_full = time.monotonic() + self.interval
            try:
                await asyncio.to_thread(self.run_pass, full=full)
            except Exception:
                log.exception("alert-to-ticket pass failed; trying again")
            await asyncio.to_thread(self._wake.wait, max(0.0, next_full - time.monotonic()))
            self._wake.clear()

    def run_pass(self, now: datetime | None = None, *, full: bool = True) -> PassReport:
        """One pass over the alerts that changed and, when ``full``, the scan, due waits and escalations."""
        with self._lock:
            state: DesiredState | None = self.desired()
            report = PassReport()
            if state is None:
                return report
            now = now or datetime.now(UTC)
            rules = load_rules(state)
            events = self._events(now, full)
            report.events = len(events)
            for start in range(0, len(events), BATCH_SIZE):
                done = 0
                try:
                    matched = self._match(events[start:start + BATCH_SIZE], state, rules)
                    while done < len(matched):
                        decided = self._write(matched[done:], state, now)
                        report.decisions.extend(decision for decision in decided if decision is not None)
                        busy = [(kind, row) for (kind, row, *_rest), decision
                                in zip(matched[done:], decided, strict=False) if decision is None]
                        if busy:
                            self._retry_later(busy, now)
                        done += len(decided)
                except Exception:
                    self._retry_later(events[start + done:], now)  # the rest, this batch's and later ones
                    raise
            with self._pending_lock:
                if self._pending:
                    self._wake.set()  # more than one pass's worth arrived: go on at once
            if full:
                report.escalated = self._escalate(rules, now)
            return report

    # -- events ----------------------------------------------------------------------------------

    def _take_pending(self) -> list[int]:
        with self._pending_lock:
            if len(self._pending) <= MAX_EVENTS_PER_PASS:
                taken, self._pending = self._pending, set()
            else:
                taken = set(sorted(self._pending)[:MAX_EVENTS_PER_PASS])
                self._pending -= taken
        return sorted(taken)

    def _retry_later(self, events: list[Event], now: datetime) -> None:
        """A batch failed (its transaction rolled back): forget having seen its rows, so they are acted on again."""
        with self._pending_lock:
            for kind, row in events:
                self._seen.pop(row.id, None)
                if kind == "recheck":
                    self._waits[row.id] = now
                else:
                    self._pending.add(row.id)

    def _events(self, now: datetime, full: bool) -> list[Event]:
        first = self._watermark is None
        columns = select(alerts.c.id, alerts.c.state, alerts.c.updated_at) \
            .order_by(alerts.c.updated_at, alerts.c.id).limit(MAX_EVENTS_PER_PASS)
        scan = None
        if first:
            scan = columns.where(alerts.c.state == "open", alerts.c.service_request_id.is_(None))
        elif full and self._scan_from is not None:
            scan = columns.where(alerts.c.updated_at >= self._scan_from)
        pending = self._take_pending()
        with self.store.read() as session:
            # The scan reads stamps first and whole rows only for what changed since they were
            # acted on: its overlap re-reads every row of the last seconds, mostly seen already.
            stamps = session.execute(scan).all() if scan is not None else []
            wanted = sorted({*pending, *(stamp.id for stamp in stamps
                                         if self._seen.get(stamp.id) != (stamp.state, stamp.updated_at))})
            found = [AlertRow.model_validate(dict(row)) for start in range(0, len(wanted), 1000)
                     for row in session.execute(_ALERTS_BY_ID, {"ids": wanted[start:start + 1000]}).mappings()]
        rechecks = {stamp.id for stamp in stamps} if first else set()
        rows = sorted(found, key=lambda r: (r.updated_at, r.id))
        events: list[Event] = []
        for row in rows:
            stamp = (row.state, row.updated_at)
            before = self._seen.get(row.id)
            if before == stamp:
                continue  # acted on already (the scan's overlap, or both the API and the scan told us)
            self._remember(row.id, stamp)
            if row.id in rechecks:
                events.append(("recheck", row))
            elif row.state == "cleared":
                events.append(("cleared", row))
            else:
                events.append(("raised" if before is None else "repeated", row))
        if scan is not None:
            newest = max((stamp.updated_at for stamp in stamps), default=None)
            if newest is not None:
                self._watermark = max(self._watermark or newest, newest)
            elif self._watermark is None:
                self._watermark = now
            # A full page means more rows at the newest time may follow: go on from there, no overlap.
            assert self._watermark is not None
            self._scan_from = self._watermark if len(stamps) >= MAX_EVENTS_PER_PASS \
                else self._watermark - SCAN_OVERLAP
        if full:
            events.extend(self._due_waits(now))
        return events

    def _remember(self, alert_id: int, stamp: tuple[str, datetime]) -> None:
        self._seen.pop(alert_id, None)
        self._seen[alert_id] = stamp
        if len(self._seen) > MAX_SEEN:
            for stale in list(self._seen)[:MAX_SEEN // 2]:  # the least recently changed half
                del self._seen[stale]

    def _due_waits(self, now: datetime) -> list[Event]:
        due = [alert_id for alert_id, until in self._waits.items() if until <= now]
        if not due:
            return []
        with self.store.read() as session:
            found = session.execute(select(*alerts.c).where(alerts.c.id.in_(due))).mappings().all()
        events: list[Event] = []
        for mapping in found:
            waited = AlertRow.model_validate(dict(mapping))
            self._waits.pop(waited.id, None)
            if waited.state == "open":
                events.append(("recheck", waited))
        return events

    # -- decisions -------------------------------------------------------------------------------

    def _match(self, events: list[Event], state: DesiredState, rules: list[Rule]) -> list[_Matched]:
        """Each event with its alert, device and rule match: the devices of a batch read at once."""
        agents = get_agents(self.store, {row.agent_id for _kind, row in events if row.agent_id is not None})
        devices: dict[str, Device] = {}
        matched: list[_Matched] = []
        for kind, row in events:
            alert = Alert(client=row.client, type=row.type, severity=row.severity, key=row.key,
                          message=row.message, raised_at=row.raised_at, cleared_at=row.cleared_at,
                          detail=row.detail)
            device = self._device(row, state, agents, devices)
            matched.append((kind, row, alert, device, match_rule(alert, device, rules)))
        return matched

    def _write(self, matched: list[_Matched], state: DesiredState, now: datetime) -> list[Decision | None]:
        """Decide and perform as many of ``matched`` as fit in one write transaction of ``WRITE_BUDGET``
        (at least one), with the open tickets and raise history of all of them read at once; the
        decisions made, in order. Matching was done before (:meth:`_match`), once per event however
        many transactions its batch takes.

        On PostgreSQL the batch's alert rows are locked first, in id order, skipping those an API
        transaction is changing right now: those are not acted on (None), the caller queues them
        again, and the API's commit brings their news. Otherwise the worker, linking alert after
        alert to tickets, could wait for a report's transaction that waits for a row the worker
        linked earlier: a deadlock, whose victim may be the agent's report (a 503)."""
        if not any(isinstance(match, RuleMatch) for *_rest, match in matched):
            return [NoRule() for _ in matched]
        ruled = [(row, match) for _k, row, _a, _d, match in matched if isinstance(match, RuleMatch)]
        with self.store.write(priority=True) as session:
            tickets = _open_tickets(session, {(row.client, match.dedup_key) for row, match in ruled})
            # only a clear asks whether other alerts on its ticket are open (a batch of raises skips the read)
            clearing = {(row.client, match.dedup_key[:500]) for row, match in ruled if row.state == "cleared"}
            batch = _Batch(tickets=tickets, history=_histories(session, {row.key for row, _match in ruled}, now),
                           open_alerts=_open_alerts(session, {ticket.id for slot, ticket in tickets.items()
                                                              if slot in clearing}))
            busy: set[int] = set()
            if self.store.dialect == "postgresql":
                wanted = sorted({row.id for row, _match in ruled})
                locked = set(session.execute(_LOCK_ALERTS, {"ids": wanted}).scalars())
                busy = set(wanted) - locked
            decisions: list[Decision | None] = []
            deadline = time.monotonic() + WRITE_BUDGET.get(self.store.dialect, 0.05)
            for kind, row, alert, device, match in matched:
                if row.id in busy:
                    decisions.append(None)
                    continue
                decisions.append(self._apply(session, batch, kind, row, alert, device, match, state, now))
                if time.monotonic() > deadline:
                    break  # the rest in the next transaction: the API's writers are waiting for the lock
            batch.flush(session, now)
            return decisions

    def _apply(self, session: Session, batch: _Batch, kind: EventKind, row: AlertRow, alert: Alert,
               device: Device, match: RuleMatch | NoRule, state: DesiredState, now: datetime) -> Decision:
        if isinstance(match, NoRule):
            return match
        slot = (row.client, match.dedup_key[:500])
        if slot in batch.opens:
            batch.flush(session, now)  # its ticket is held back: write it, so this event sees its id
        if row.state == "cleared":
            batch.cleared(row.id)
        decision = decide(AlertEvent(kind, now if kind == "recheck" else row.updated_at, alert),
                          batch.history.get(row.key, []), device, match, batch.tickets.get(slot))
        ref = _ref(match.rule)
        if isinstance(decision, OpenTicket):
            routing, defaults = decision.routing, _ticket_defaults(state, row.client)
            new = NewServiceRequest(
                client=row.client, dedup_key=decision.dedup_key, title=decision.title, body=decision.body,
                priority=routing.priority or SEVERITY_PRIORITY.get(row.severity, defaults.priority),
                agent_id=row.agent_id, source_alert_id=row.id, board=routing.board or defaults.board,
                assignee=routing.assignee or defaults.assignee, rule=ref, created_by=f"rule {ref}",
                render_error="; ".join(decision.errors), connector=routing.connector)
            if slot in batch.tickets or any(held == slot for held, _r in batch.resolves.values()):
                # decide() opens only when none is open (kept as it was, to be safe), and the key's old
                # ticket, being resolved, must be written first (its open key is still taken)
                batch.flush(session, now)
                batch.opened(slot, new, *open_service_request_in(session, new, now))
            else:
                batch.opens[slot] = new
        elif isinstance(decision, AppendNote | AnnotateTicket):
            batch.link(row, decision.ticket.id)
            batch.notes.append(NewNote(decision.ticket.id, row.client, f"rule {ref}", decision.text))
        elif isinstance(decision, ResolveTicket):
            ticket_id = decision.ticket.id
            others = batch.others_open(ticket_id, row.id)
            if others is None or ticket_id in batch.resolves:  # a ticket the batch did not read (another
                batch.flush(session, now)  # writer's), or resolved twice: ask the store, after the held writes
                others = _others_open(session, ticket_id, row.id) if others is None else others
            if others:
                # Two drives low on one device share a ticket: it stays open until the last one clears.
                batch.notes.append(NewNote(ticket_id, row.client, f"rule {ref}",
                                           f"{decision.note} Other alerts on this ticket are still open."))
            else:
                batch.resolves[ticket_id] = (slot, Resolution(ticket_id, row.client, f"rule {ref}", decision.note))
                batch.tickets.pop(slot, None)
        elif isinstance(decision, Wait):
            self._waits[row.id] = decision.until
        elif kind == "recheck" and (ticket := batch.tickets.get(slot)) is not None:
            # Its window ran out after another alert had opened the ticket for its key: it belongs to
            # that ticket, so the other alert clearing must not resolve it while this one is open.
            batch.link(row, ticket.id)
        return decision

    def _device(self, row: AlertRow, state: DesiredState, agents: dict[str, AgentPublic],
                devices: dict[str, Device]) -> Device:
        if row.agent_id is None:
            # A controller alert (a licence, a warranty) concerns no one device: its key stands in
            # for the device, so the default deduplication gives each licence its own ticket.
            return Device(id=row.key, hostname="", client=row.client)
        if row.agent_id in devices:
            return devices[row.agent_id]
        agent = agents.get(row.agent_id)
        if agent is None:
            return Device(id=row.agent_id, hostname="", client=row.client)
        labels = device_labels(agent)
        groups = frozenset(loaded.name for (scope, _name), loaded in state.of_kind(DeviceGroup).items()
                           if scope in (None, row.client) and loaded.resource.spec.matches(labels, agent.agent_id))
        devices[row.agent_id] = Device(id=agent.agent_id, hostname=agent.hostname, client=agent.client,
                                       groups=groups, labels=labels)
        return devices[row.agent_id]

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


def _open_tickets(session: Session, slots: set[tuple[str, str]]) -> dict[tuple[str, str], Ticket]:
    """The open ticket of each (client, dedup key), for a batch: by client and up to 500 keys a query,
    which the unique (client, open_key) index answers."""
    by_client: dict[str, list[str]] = {}
    for client, key in sorted({(client, key[:500]) for client, key in slots}):
        by_client.setdefault(client, []).append(key)
    found: dict[tuple[str, str], Ticket] = {}
    for client, keys in by_client.items():
        for start in range(0, len(keys), 500):
            rows = session.execute(_OPEN_TICKETS, {"of_client": client, "keys": keys[start:start + 500]}).all()
            for row in rows:
                found[(client, row.open_key)] = Ticket(
                    id=row.id, rule=row.rule or "", dedup_key=row.dedup_key, opened_at=row.created_at,
                    acknowledged=row.acknowledged_at is not None, escalation_steps_done=row.escalation_steps)
    return found


# Built once (see controller.store.service_requests: a statement's construction costs as much as its run).
_OPEN_TICKETS = (select(service_requests.c.id, service_requests.c.open_key, service_requests.c.rule,
                        service_requests.c.dedup_key, service_requests.c.created_at,
                        service_requests.c.acknowledged_at, service_requests.c.escalation_steps)
                 .where(service_requests.c.client == bindparam("of_client"),
                        service_requests.c.open_key.in_(bindparam("keys", expanding=True))))
_HISTORIES = (select(alerts.c.key, alerts.c.raised_at)
              .where(alerts.c.key.in_(bindparam("keys", expanding=True)), alerts.c.raised_at >= bindparam("since"))
              .order_by(alerts.c.id))
_LOCK_ALERTS = (select(alerts.c.id).where(alerts.c.id.in_(bindparam("ids", expanding=True)))
                .order_by(alerts.c.id).with_for_update(skip_locked=True))
_ALERTS_BY_ID = select(*alerts.c).where(alerts.c.id.in_(bindparam("ids", expanding=True)))
_OPEN_ON_TICKETS = select(alerts.c.id, alerts.c.service_request_id).where(
    alerts.c.service_request_id.in_(bindparam("ids", expanding=True)), alerts.c.state == "open")
_OTHERS_OPEN = select(alerts.c.id).where(alerts.c.service_request_id == bindparam("ticket_id"),
                                         alerts.c.state == "open", alerts.c.id != bindparam("alert_id")).limit(1)


def _histories(session: Session, keys: set[str], now: datetime) -> dict[str, list[datetime]]:
    """The times each alert key was raised within the history window, for a batch."""
    ordered = sorted(keys)
    history: dict[str, list[datetime]] = {}
    for start in range(0, len(ordered), 500):
        rows = session.execute(_HISTORIES, {"keys": ordered[start:start + 500], "since": now - HISTORY_WINDOW}).all()
        for row in rows:
            history.setdefault(row.key, []).append(row.raised_at)
    return history


def _open_alerts(session: Session, ticket_ids: set[int]) -> dict[int, set[int]]:
    """The open alerts on each of these tickets, for a batch (every ticket asked about has an entry)."""
    found: dict[int, set[int]] = {ticket_id: set() for ticket_id in ticket_ids}
    if not ticket_ids:
        return found
    ordered = sorted(ticket_ids)
    for start in range(0, len(ordered), 500):
        for row in session.execute(_OPEN_ON_TICKETS, {"ids": ordered[start:start + 500]}).all():
            found[row.service_request_id].add(row.id)
    return found


def _others_open(session: Session, ticket_id: int, alert_id: int) -> bool:
    return session.execute(_OTHERS_OPEN, {"ticket_id": ticket_id, "alert_id": alert_id}).first() is not None


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
