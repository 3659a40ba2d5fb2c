"""The built-in ticket store: service requests with a life cycle, notes, and their source alert.

Life cycle: ``new`` → ``acknowledged`` → ``in_progress`` → ``resolved`` → ``closed``; any open
state may go straight to ``resolved``, a resolved ticket may be reopened (``in_progress``),
``closed`` is final. Opening is idempotent per deduplication key: while a ticket with the key
is open, :func:`open_service_request` returns it (and notes the repeat) instead of opening a
second one. The database enforces it too (a unique ``(client, open_key)``), so two controllers
racing on the same alert still end with one ticket.

A ticket sent to a PSA queues every change in the outbox (``ticket_outbox``) in the same
transaction; so does escalation mail (``notify``), as rows of the pseudo-connector
:data:`EMAIL_OUTBOX`. A resolution read back from the PSA (:func:`resolve_from_psa`) is not
sent back to it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import bindparam, exc, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from controller.errors import Conflict, NotFound
from controller.store.alerts import AlertRow
from controller.store.audit import record_audit
from controller.store.engine import Store
from controller.store.tables import (
    OPEN_SERVICE_REQUEST_STATES,
    alerts,
    service_request_notes,
    service_requests,
    ticket_outbox,
)

TRANSITIONS: dict[str, tuple[str, ...]] = {
    "new": ("acknowledged", "in_progress", "resolved"),
    "acknowledged": ("in_progress", "resolved"),
    "in_progress": ("resolved",),
    "resolved": ("in_progress", "closed"),
    "closed": (),
}
MAX_NOTE = 20_000
EMAIL_OUTBOX = "(email)"
"""The outbox's connector name for escalation mail; not a DNS label, so no PSA connector can have it."""


class ServiceRequestNoteRow(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    at: datetime
    author: str
    text: str


class ServiceRequestRow(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    client: str
    agent_id: str | None
    source_alert_id: int | None
    dedup_key: str
    title: str
    body: str
    state: str
    priority: str
    board: str | None
    assignee: str | None
    rule: str | None
    created_by: str
    render_error: str
    escalation_steps: int
    connector: str | None
    external_id: str | None
    external_url: str | None
    created_at: datetime
    updated_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    synced_at: datetime | None = None
    """When the PSA's state of the ticket was last read back (None: never, or no PSA)."""


class DeliveryRow(BaseModel):
    """One outbox entry: what the PSA connector was or is still to be told."""

    model_config = ConfigDict(frozen=True)

    id: int
    connector: str
    action: str
    state: str
    attempts: int
    next_attempt_at: datetime
    last_error: str
    delivered_at: datetime | None


class ServiceRequestDetail(BaseModel):
    request: ServiceRequestRow
    notes: list[ServiceRequestNoteRow]
    source_alert: AlertRow | None
    deliveries: list[DeliveryRow] = []


@dataclass(frozen=True)
class NewServiceRequest:
    client: str
    dedup_key: str
    title: str
    body: str = ""
    priority: str = "medium"
    agent_id: str | None = None
    source_alert_id: int | None = None
    board: str | None = None
    assignee: str | None = None
    rule: str | None = None
    created_by: str = "system"
    render_error: str = ""
    connector: str | None = None
    """A PSA connector (by name) the ticket is also sent to, through the outbox."""


_COLUMNS = [column for column in service_requests.c if column.name != "open_key"]

# The ticket worker's statements, built once: building a statement and its cache key costs
# ~0.1 ms each time, as much as running it on SQLite, and a storm runs them thousands of times.
# Losing the race for a key is "no row returned", not an error: no savepoint (two round trips a
# ticket on PostgreSQL, where an error would abort the caller's whole transaction).
_INSERT_TICKET = {"postgresql": postgresql.insert(service_requests).on_conflict_do_nothing().returning(*_COLUMNS),
                  "sqlite": sqlite.insert(service_requests).on_conflict_do_nothing().returning(*_COLUMNS)}
_INSERT_NOTE = insert(service_request_notes).returning(service_request_notes.c.id)
_TOUCH = (update(service_requests)
          .where(service_requests.c.id == bindparam("ticket_id"), service_requests.c.client == bindparam("of_client"))
          .values(updated_at=bindparam("touched")).returning(service_requests.c.connector))
# A batch's statements (the ticket worker's storm): one round trip for many rows. The ticket
# insert returns nothing for a key another writer holds, so its rows are matched by key, not order.
_INSERT_TICKETS = {name: statement.returning(*_COLUMNS, sort_by_parameter_order=False)
                   for name, statement in (("postgresql", postgresql.insert(service_requests).on_conflict_do_nothing()),
                                           ("sqlite", sqlite.insert(service_requests).on_conflict_do_nothing()))}
_INSERT_NOTES = insert(service_request_notes).returning(service_request_notes.c.id, sort_by_parameter_order=True)
_TOUCH_MANY = (update(service_requests)
               .where(service_requests.c.id.in_(bindparam("ids", expanding=True)))
               .values(updated_at=bindparam("touched"))
               .returning(service_requests.c.id, service_requests.c.client, service_requests.c.connector))
_TICKET_STATES = (select(service_requests.c.id, service_requests.c.client, service_requests.c.state,
                         service_requests.c.connector)
                  .where(service_requests.c.id.in_(bindparam("ids", expanding=True))).order_by(service_requests.c.id))
_RESOLVE_MANY = (update(service_requests)
                 .where(service_requests.c.id.in_(bindparam("ids", expanding=True)),
                        service_requests.c.state.in_(OPEN_SERVICE_REQUEST_STATES))
                 .values(state="resolved", open_key=None, resolved_at=bindparam("touched"),
                         updated_at=bindparam("touched")))
_LINK = (update(alerts).where(alerts.c.id == bindparam("alert_id"))
         .values(service_request_id=bindparam("ticket_id")))


def open_service_request(store: Store, new: NewServiceRequest, now: datetime) -> tuple[ServiceRequestRow, bool]:
    """Open a ticket, or return the open one with the same key (noting the repeat); (ticket, opened)."""
    with store.write() as session:
        return open_service_request_in(session, new, now)


def open_service_request_in(session: Session, new: NewServiceRequest, now: datetime, *,
                            none_open: bool = False) -> tuple[ServiceRequestRow, bool]:
    """:func:`open_service_request` inside the caller's write transaction (the ticket worker opens a
    pass's tickets in one transaction). Losing the race for the key to another writer (the insert
    conflicts on the unique open key and does nothing) adds to their ticket instead and does not
    abort the caller's transaction.

    ``none_open``: the caller read in this transaction that no ticket with the key is open, so the
    first try skips that read (the unique key still catches another controller's ticket)."""
    insert_ticket = _INSERT_TICKET[session.get_bind().dialect.name]
    for attempt in range(3):
        existing = None if none_open and attempt == 0 else _open_with_key(session, new.client, new.dedup_key)
        if existing is not None:
            _note(session, existing, new.created_by, f"Repeated: {new.title}", now)
            link_alert_in(session, new.source_alert_id, existing.id)
            return existing, False
        opened = session.execute(insert_ticket, {
            "client": new.client, "agent_id": new.agent_id, "source_alert_id": new.source_alert_id,
            "dedup_key": new.dedup_key[:500], "open_key": new.dedup_key[:500], "title": new.title[:250],
            "body": new.body[:MAX_NOTE], "state": "new", "priority": new.priority, "board": new.board,
            "assignee": new.assignee, "rule": new.rule, "created_by": new.created_by[:253],
            "render_error": new.render_error, "connector": new.connector, "created_at": now,
            "updated_at": now, "acknowledged_at": None, "resolved_at": None}).mappings().first()
        if opened is None:
            continue  # another writer opened the same key a moment ago: read theirs on the next try
        ticket = ServiceRequestRow.model_validate(dict(opened))
        link_alert_in(session, new.source_alert_id, ticket.id)
        if new.connector:
            _enqueue(session, ticket.id, new.connector, "create", "", f"fw-{ticket.id}-create", now)
        return ticket, True
    raise Conflict(f"could not open a ticket for {new.dedup_key!r}", hint="retry the request")


def open_service_requests_in(session: Session, news: Sequence[NewServiceRequest],
                             now: datetime) -> list[tuple[ServiceRequestRow, bool]]:
    """:func:`open_service_request_in` with ``none_open`` for many tickets of distinct keys, in one
    ``INSERT .. ON CONFLICT DO NOTHING RETURNING`` plus one statement for their alerts' links (the
    ticket worker's batch: a round trip per batch, not per ticket, on a loaded PostgreSQL). A key
    another writer opened meanwhile goes the one-ticket way (adds to their ticket); (ticket, opened)
    in the order of ``news``."""
    slots = [(new.client, new.dedup_key[:500]) for new in news]
    if len(set(slots)) != len(slots):
        raise ValueError("open_service_requests_in: two new tickets with one key")
    if not news:
        return []
    insert_ticket = _INSERT_TICKETS[session.get_bind().dialect.name]
    rows = session.execute(insert_ticket, [{
        "client": new.client, "agent_id": new.agent_id, "source_alert_id": new.source_alert_id,
        "dedup_key": new.dedup_key[:500], "open_key": new.dedup_key[:500], "title": new.title[:250],
        "body": new.body[:MAX_NOTE], "state": "new", "priority": new.priority, "board": new.board,
        "assignee": new.assignee, "rule": new.rule, "created_by": new.created_by[:253],
        "render_error": new.render_error, "connector": new.connector, "created_at": now,
        "updated_at": now, "acknowledged_at": None, "resolved_at": None} for new in news]).mappings().all()
    opened = {(row["client"], row["dedup_key"]): ServiceRequestRow.model_validate(dict(row)) for row in rows}
    link_alerts_in(session, [(new.source_alert_id, opened[slot].id)
                             for new, slot in zip(news, slots, strict=True) if slot in opened])
    for slot, new in zip(slots, news, strict=True):
        if new.connector and slot in opened:
            _enqueue(session, opened[slot].id, new.connector, "create", "", f"fw-{opened[slot].id}-create", now)
    # Lost races, if any: each reads the other writer's ticket and notes the repeat on it.
    return [(opened[slot], True) if slot in opened else open_service_request_in(session, new, now)
            for slot, new in zip(slots, news, strict=True)]


def _open_with_key(session: Session, client: str, key: str) -> ServiceRequestRow | None:
    found = session.execute(select(*_COLUMNS).where(service_requests.c.client == client,
                                                    service_requests.c.open_key == key[:500])).mappings().first()
    return ServiceRequestRow.model_validate(dict(found)) if found is not None else None


def _row(session: Session, ticket_id: int) -> ServiceRequestRow:
    found = session.execute(select(*_COLUMNS).where(service_requests.c.id == ticket_id)).mappings().one()
    return ServiceRequestRow.model_validate(dict(found))


def link_alert_in(session: Session, alert_id: int | None, ticket_id: int) -> None:
    """Record that the alert is on this ticket (a repeat, or a second alert sharing its key)."""
    if alert_id is not None:
        session.execute(_LINK, {"alert_id": alert_id, "ticket_id": ticket_id})


def link_alerts_in(session: Session, links: Sequence[tuple[int | None, int]]) -> None:
    """:func:`link_alert_in` for many (alert, ticket) pairs, as one executemany (pipelined by psycopg)."""
    params = [{"alert_id": alert_id, "ticket_id": ticket_id} for alert_id, ticket_id in links if alert_id is not None]
    if params:
        session.execute(_LINK, params)


@dataclass(frozen=True)
class NewNote:
    """One note for :func:`note_service_requests_in`."""

    ticket_id: int
    client: str
    author: str
    text: str


def note_service_requests_in(session: Session, notes: Sequence[NewNote], now: datetime) -> None:
    """:func:`note_service_request_in` for many notes, in order, in three statements whatever their
    number (touch the tickets, insert the notes, queue the PSA's copies), not two per note. NotFound
    when a ticket does not exist or is not its note's client's (the caller's transaction then rolls
    back, as with one note)."""
    if not notes:
        return
    touched = {row.id: row for row in session.execute(
        _TOUCH_MANY, {"ids": sorted({note.ticket_id for note in notes}), "touched": now}).all()}
    for note in notes:
        found = touched.get(note.ticket_id)
        if found is None or found.client != note.client:
            raise NotFound(f"service request {note.ticket_id} does not exist",
                           hint="list them with GET /api/service-requests")
    _add_notes(session, [(note.ticket_id, touched[note.ticket_id].connector, note.author, note.text, "note")
                         for note in notes], now)


@dataclass(frozen=True)
class Resolution:
    """One ticket to resolve for :func:`resolve_service_requests_in`, with the note saying why."""

    ticket_id: int
    client: str
    author: str
    note: str


def resolve_service_requests_in(session: Session, resolutions: Sequence[Resolution], now: datetime) -> None:
    """Resolve many tickets as :func:`update_service_request_in` with ``state="resolved"`` and a note
    does each, in four statements whatever their number (read and lock, resolve, notes, the PSA's
    copies), not six per ticket: the ticket worker's clears in a storm.

    A ticket that is no longer open (someone resolved or closed it meanwhile) gets the note only, as a
    ticket already resolved does one by one; a closed one is not an error here (nothing is reopened).
    NotFound when a ticket does not exist or is not its resolution's client's (the caller's
    transaction then rolls back)."""
    if not resolutions:
        return
    ids = [resolution.ticket_id for resolution in resolutions]
    if len(set(ids)) != len(ids):
        raise ValueError("resolve_service_requests_in: one ticket twice")
    statement = _TICKET_STATES
    if session.get_bind().dialect.name == "postgresql":
        statement = statement.with_for_update()  # its note must name the state it really left
    current = {row.id: row for row in session.execute(statement, {"ids": sorted(ids)}).all()}
    for resolution in resolutions:
        found = current.get(resolution.ticket_id)
        if found is None or found.client != resolution.client:
            raise NotFound(f"service request {resolution.ticket_id} does not exist",
                           hint="list them with GET /api/service-requests")
    resolving = sorted(ticket_id for ticket_id in ids if current[ticket_id].state in OPEN_SERVICE_REQUEST_STATES)
    if resolving:
        session.execute(_RESOLVE_MANY, {"ids": resolving, "touched": now})
    if len(resolving) < len(ids):
        session.execute(_TOUCH_MANY, {"ids": sorted(set(ids) - set(resolving)), "touched": now}).all()
    notes = []
    for resolution in resolutions:
        ticket = current[resolution.ticket_id]
        if ticket.state in OPEN_SERVICE_REQUEST_STATES:
            notes.append((ticket.id, ticket.connector, resolution.author,
                          f"state {ticket.state} → resolved\n\n{resolution.note}", "resolve"))
        else:
            notes.append((ticket.id, ticket.connector, resolution.author, resolution.note, "note"))
    _add_notes(session, notes, now)


def _add_notes(session: Session, notes: Sequence[tuple[int, str | None, str, str, str]], now: datetime) -> None:
    """Insert notes (ticket, its connector, author, text, outbox action) in order, in one statement, and
    queue a copy of each for its ticket's PSA in one more."""
    note_ids = session.execute(_INSERT_NOTES, [
        {"service_request_id": ticket_id, "at": now, "author": author[:253], "text": text[:MAX_NOTE]}
        for ticket_id, _connector, author, text, _action in notes]).scalars().all()
    queued = [_outbox_row(ticket_id, connector, action, f"{author}: {text}"[:MAX_NOTE],
                          f"fw-{ticket_id}-{action}-{note_id}", now)
              for (ticket_id, connector, author, text, action), note_id in zip(notes, note_ids, strict=True)
              if connector]
    if queued:
        session.execute(insert(ticket_outbox), queued)


def note_service_request_in(session: Session, ticket_id: int, client: str, *, author: str, text: str,
                            now: datetime) -> None:
    """Add a note to a ticket of ``client`` inside the caller's write transaction, as
    :func:`update_service_request_in` with only ``note`` does, in two statements instead of four
    (the ticket worker's "raised again" notes). NotFound when the client has no such ticket."""
    found = session.execute(_TOUCH, {"ticket_id": ticket_id, "of_client": client, "touched": now}).first()
    if found is None:
        raise NotFound(f"service request {ticket_id} does not exist",
                       hint="list them with GET /api/service-requests")
    _add_note(session, ticket_id, found.connector, author, text, now)


def _note(session: Session, ticket: ServiceRequestRow, author: str, text: str, now: datetime, *,
          action: str = "note", outbox: bool = True) -> None:
    """Add a note; a ticket sent to a PSA also queues it (or the resolution it records) in the outbox."""
    session.execute(_TOUCH, {"ticket_id": ticket.id, "of_client": ticket.client, "touched": now})
    _add_note(session, ticket.id, ticket.connector if outbox else None, author, text, now, action=action)


def _add_note(session: Session, ticket_id: int, connector: str | None, author: str, text: str, now: datetime, *,
              action: str = "note") -> None:
    note_id = session.execute(_INSERT_NOTE, {"service_request_id": ticket_id, "at": now, "author": author[:253],
                                             "text": text[:MAX_NOTE]}).scalar_one()
    if connector:
        _enqueue(session, ticket_id, connector, action, f"{author}: {text}"[:MAX_NOTE],
                 f"fw-{ticket_id}-{action}-{note_id}", now)


def _enqueue(session: Session, ticket_id: int, connector: str, action: str, text: str, key: str,
             now: datetime) -> None:
    session.execute(insert(ticket_outbox).values(_outbox_row(ticket_id, connector, action, text, key, now)))


def _outbox_row(ticket_id: int, connector: str, action: str, text: str, key: str, now: datetime) -> dict[str, Any]:
    """A new outbox entry, due now."""
    return {"service_request_id": ticket_id, "connector": connector, "action": action, "text": text,
            "idempotency_key": key, "state": "pending", "attempts": 0, "next_attempt_at": now, "last_error": "",
            "created_at": now, "delivered_at": None}


def _enqueue_mail(session: Session, ticket: ServiceRequestRow, recipients: Sequence[str], text: str, reason: str,
                  now: datetime) -> None:
    """Queue one mail about ``ticket``. Keyed by the recipients and ``reason`` (the caller's note, not
    the changes, which differ when a step is applied again), so applying the same escalation step
    again (a crash between the note and the step counter) does not send it twice."""
    to = sorted(set(recipients))
    key = f"fw-{ticket.id}-email-" + hashlib.sha256(json.dumps([to, reason]).encode()).hexdigest()[:40]
    body = json.dumps({"to": to, "note": text[:MAX_NOTE]}, sort_keys=True)
    exists = session.execute(select(ticket_outbox.c.id).where(ticket_outbox.c.idempotency_key == key)).first()
    if exists is None:
        _enqueue(session, ticket.id, EMAIL_OUTBOX, "email", body, key, now)


def _visible(session: Session, ticket_id: int, client: str | None) -> ServiceRequestRow:
    statement = select(*_COLUMNS).where(service_requests.c.id == ticket_id)
    if client is not None:
        statement = statement.where(service_requests.c.client == client)
    found = session.execute(statement).mappings().first()
    if found is None:
        raise NotFound(f"service request {ticket_id} does not exist",
                       hint="list them with GET /api/service-requests")
    return ServiceRequestRow.model_validate(dict(found))


def get_service_request(store: Store, ticket_id: int, client: str | None) -> ServiceRequestDetail:
    with store.read() as session:
        ticket = _visible(session, ticket_id, client)
        notes = session.execute(select(service_request_notes.c.id, service_request_notes.c.at,
                                       service_request_notes.c.author, service_request_notes.c.text)
                                .where(service_request_notes.c.service_request_id == ticket_id)
                                .order_by(service_request_notes.c.id)).mappings().all()
        deliveries = session.execute(select(
            ticket_outbox.c.id, ticket_outbox.c.connector, ticket_outbox.c.action, ticket_outbox.c.state,
            ticket_outbox.c.attempts, ticket_outbox.c.next_attempt_at, ticket_outbox.c.last_error,
            ticket_outbox.c.delivered_at).where(ticket_outbox.c.service_request_id == ticket_id)
            .order_by(ticket_outbox.c.id)).mappings().all()
        alert = None
        if ticket.source_alert_id is not None:
            found = session.execute(select(*alerts.c).where(alerts.c.id == ticket.source_alert_id)).mappings().first()
            alert = AlertRow.model_validate(dict(found)) if found is not None else None
    return ServiceRequestDetail(request=ticket, notes=[ServiceRequestNoteRow.model_validate(dict(note))
                                                       for note in notes], source_alert=alert,
                                deliveries=[DeliveryRow.model_validate(dict(row)) for row in deliveries])


def list_service_requests(store: Store, client: str | None, *, state: str | None = None, open_only: bool = False,
                          agent_id: str | None = None, before_id: int | None = None,
                          limit: int = 500) -> list[ServiceRequestRow]:
    """Tickets newest first; page with ``before_id`` = the last id of the previous page."""
    table = service_requests.c
    statement = select(*_COLUMNS).order_by(table.id.desc()).limit(max(1, min(limit, 5000)))
    if client is not None:
        statement = statement.where(table.client == client)
    if state is not None:
        statement = statement.where(table.state == state)
    if open_only:
        statement = statement.where(table.state.in_(OPEN_SERVICE_REQUEST_STATES))
    if agent_id is not None:
        statement = statement.where(table.agent_id == agent_id)
    if before_id is not None:
        statement = statement.where(table.id < before_id)
    with store.read() as session:
        return [ServiceRequestRow.model_validate(dict(row)) for row in session.execute(statement).mappings()]


def ticket_for_alert(store: Store, alert_id: int, client: str | None) -> ServiceRequestRow:
    """The ticket an alert opened or was added to; NotFound when it has none."""
    with store.read() as session:
        statement = select(alerts.c.service_request_id).where(alerts.c.id == alert_id)
        if client is not None:
            statement = statement.where(alerts.c.client == client)
        found = session.execute(statement).first()
        if found is None:
            raise NotFound(f"alert {alert_id} does not exist", hint="list alerts with GET /api/alerts")
        if found.service_request_id is None:
            raise NotFound(f"alert {alert_id} has no ticket",
                           hint="POST /api/alerts/{id}/create-ticket opens one by hand")
        return _visible(session, int(found.service_request_id), client)


def update_service_request(store: Store, ticket_id: int, client: str | None, *, actor: str, now: datetime,
                           state: str | None = None, priority: str | None = None, assignee: str | None = None,
                           board: str | None = None, note: str | None = None,
                           notify: Sequence[str] = ()) -> ServiceRequestRow:
    """Change a ticket; every change is also a note. A transition the life cycle does not allow is a Conflict.
    ``notify``: e-mail addresses told of the change (the note), through the outbox, once."""
    with store.write() as session:
        return update_service_request_in(session, ticket_id, client, actor=actor, now=now, state=state,
                                         priority=priority, assignee=assignee, board=board, note=note,
                                         notify=notify)


def update_service_request_in(session: Session, ticket_id: int, client: str | None, *, actor: str,
                              now: datetime, state: str | None = None, priority: str | None = None,
                              assignee: str | None = None, board: str | None = None,
                              note: str | None = None, notify: Sequence[str] = ()) -> ServiceRequestRow:
    """:func:`update_service_request` inside the caller's write transaction."""
    ticket = _visible(session, ticket_id, client)
    values: dict[str, Any] = {}
    changes = []
    if state is not None and state != ticket.state:
        if state not in TRANSITIONS[ticket.state]:
            allowed = ", ".join(TRANSITIONS[ticket.state]) or "none (closed is final)"
            raise Conflict(f"service request {ticket_id} is {ticket.state}; it cannot become {state}",
                           hint=f"allowed next states: {allowed}")
        values["state"] = state
        if state == "acknowledged" and ticket.acknowledged_at is None:
            values["acknowledged_at"] = now
        if state in OPEN_SERVICE_REQUEST_STATES:
            values["open_key"] = ticket.dedup_key
            values["resolved_at"] = None
        else:
            values["open_key"] = None
            values["resolved_at"] = ticket.resolved_at or now
        changes.append(f"state {ticket.state} → {state}")
    for name, value, old in (("priority", priority, ticket.priority), ("assignee", assignee, ticket.assignee),
                             ("board", board, ticket.board)):
        if value is not None and value != old:
            values[name] = value
            changes.append(f"{name} {old or '-'} → {value}")
    if values:
        values["updated_at"] = now
        try:
            session.execute(update(service_requests).where(service_requests.c.id == ticket_id).values(values))
            session.flush()
        except exc.IntegrityError:
            raise Conflict(f"service request {ticket_id} cannot be reopened: another open ticket has its "
                           f"key {ticket.dedup_key!r}", hint="add to that ticket instead") from None
    text = "; ".join(changes)
    if note:
        text = f"{text}\n\n{note}" if text else note
    if text:
        resolved = values.get("state") in ("resolved", "closed")
        _note(session, ticket, actor, text, now, action="resolve" if resolved else "note")
        if notify:
            _enqueue_mail(session, ticket, notify, text, note or text, now)
    return _row(session, ticket_id)


def resolve_from_psa(store: Store, ticket_id: int, *, connector: str, product: str, status: str,
                     closed_by: str | None, now: datetime) -> ServiceRequestRow | None:
    """Resolve an open ticket because its PSA resolved or closed it: a note, an audit row, nothing sent
    back to the PSA. None (and no change) when the ticket is no longer open here: a ticket resolved or
    closed in Fleetward is never reopened by what the PSA says."""
    with store.write() as session:
        ticket = _visible(session, ticket_id, None)
        changed = session.execute(
            update(service_requests)
            .where(service_requests.c.id == ticket_id, service_requests.c.state.in_(OPEN_SERVICE_REQUEST_STATES))
            .values(state="resolved", open_key=None, resolved_at=now, updated_at=now, synced_at=now)).rowcount  # type: ignore[attr-defined]
        if not changed:
            return None
        by = f" by {closed_by}" if closed_by else ""
        _note(session, ticket, f"connector {connector}",
              f"state {ticket.state} → resolved\n\nResolved in {product}{by} ({status}).", now, outbox=False)
        record_audit(session, actor=f"connector {connector}", actor_kind="system",
                     action="service-request.resolved-in-psa", target=str(ticket_id),
                     client=ticket.client, detail={"external_id": ticket.external_id, "status": status,
                                                   "closed_by": closed_by}, now=now)
        return _row(session, ticket_id)


def resolve_for_alert(store: Store, alert_id: int, *, note: str, actor: str, now: datetime) -> ServiceRequestRow | None:
    """Resolve the open ticket of a cleared alert (a rule's ``on_clear: resolve``); None when it has none."""
    with store.read() as session:
        found = session.execute(select(alerts.c.service_request_id, alerts.c.client)
                                .where(alerts.c.id == alert_id)).first()
    if found is None or found.service_request_id is None:
        return None
    ticket = get_service_request(store, int(found.service_request_id), found.client).request
    if ticket.state not in OPEN_SERVICE_REQUEST_STATES:
        return ticket
    return update_service_request(store, ticket.id, found.client, actor=actor, now=now, state="resolved", note=note)
