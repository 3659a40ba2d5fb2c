"""The ticket worker's batch writes: many tickets, notes and links in a few statements, same effects as one by one."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, select

from controller.errors import NotFound
from controller.store import (
    NewServiceRequest,
    Store,
    clear_alert,
    get_service_request,
    list_alerts,
    list_service_requests,
    open_service_request,
    raise_alert,
    update_service_request,
)
from controller.store.service_requests import (
    NewNote,
    Resolution,
    note_service_requests_in,
    open_service_requests_in,
    resolve_service_requests_in,
)
from controller.store.tables import ticket_outbox
from controller.tickets.applying import TicketWorker
from tests.support.resources import client, desired, resource

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)


@pytest.fixture
def store(database_url):
    opened = Store.open(database_url)
    yield opened
    opened.close()


def _alert(store: Store, client: str, key: str) -> int:
    alert_id, _ = raise_alert(store, client=client, agent_id=None, type="disk.low", severity="critical", key=key,
                              message=f"{key} is full", now=NOW)
    return alert_id


def _new(client: str, key: str, alert_id: int, connector: str | None = None) -> NewServiceRequest:
    return NewServiceRequest(client=client, dedup_key=key, title=f"{key} is full", source_alert_id=alert_id,
                             created_by="rule disk", rule="disk", connector=connector)


def test_a_batch_opens_its_tickets_links_their_alerts_and_adds_to_a_ticket_another_writer_opened(store):
    alerts = {key: _alert(store, "acme", key) for key in ("a", "b", "c")}
    theirs, _ = open_service_request(store, _new("acme", "b", alerts["b"]), NOW)  # another controller, meanwhile
    with store.write() as session:
        opened = open_service_requests_in(session, [_new("acme", key, alerts[key], connector="hooks" if key == "c"
                                                         else None) for key in ("a", "b", "c")],
                                          NOW + timedelta(seconds=1))
    assert [(ticket.dedup_key, new) for ticket, new in opened] == [("a", True), ("b", False), ("c", True)]
    assert opened[1][0].id == theirs.id
    assert len(list_service_requests(store, "acme")) == 3
    by_key = {alert.key: alert.service_request_id for alert in list_alerts(store, "acme")}
    assert by_key == {key: ticket.id for key, (ticket, _new) in zip(("a", "b", "c"), opened, strict=True)}
    assert [note.text for note in get_service_request(store, theirs.id, "acme").notes] == ["Repeated: b is full"]
    deliveries = get_service_request(store, opened[2][0].id, "acme").deliveries
    assert [(delivery.connector, delivery.action) for delivery in deliveries] == [("hooks", "create")]


def test_batch_notes_keep_their_order_and_queue_one_outbox_entry_each_for_a_psa_ticket(store):
    alert_id = _alert(store, "acme", "a")
    ticket, _ = open_service_request(store, _new("acme", "a", alert_id, connector="hooks"), NOW)
    with store.write() as session:
        note_service_requests_in(session, [NewNote(ticket.id, "acme", "rule disk", f"note {n}") for n in range(3)],
                                 NOW + timedelta(minutes=1))
    detail = get_service_request(store, ticket.id, "acme")
    assert [note.text for note in detail.notes] == ["note 0", "note 1", "note 2"]
    assert detail.request.updated_at == NOW + timedelta(minutes=1)
    assert [delivery.action for delivery in detail.deliveries] == ["create", "note", "note", "note"]


def test_a_batch_note_for_another_clients_ticket_is_not_found_and_writes_nothing(store):
    mine, _ = open_service_request(store, _new("acme", "a", _alert(store, "acme", "a")), NOW)
    other, _ = open_service_request(store, _new("globex", "b", _alert(store, "globex", "b")), NOW)
    with pytest.raises(NotFound), store.write() as session:
        note_service_requests_in(session, [NewNote(mine.id, "acme", "rule disk", "fine"),
                                           NewNote(other.id, "acme", "rule disk", "not yours")],
                                 NOW + timedelta(minutes=1))
    for ticket, owner in ((mine, "acme"), (other, "globex")):
        detail = get_service_request(store, ticket.id, owner)
        assert (detail.notes, detail.request.updated_at) == ([], NOW)


def test_the_worker_skips_an_alert_a_report_is_changing_and_takes_it_up_after_that_commits(pg_url):
    # PostgreSQL: the worker must not wait on an alert row another transaction holds while holding
    # the rows it linked already (that report's transaction could be waiting for one of them).
    import psycopg

    store = Store.open(pg_url)
    try:
        state = desired([(None, client("acme")), ("acme", resource("AlertTicketRule", "disk",
                                                                   {"match": {"alertTypes": ["disk.*"]},
                                                                    "dedupKey": "{{ alert.key }}"}))])
        worker = TicketWorker(store, lambda: state)
        worker.run_pass(NOW - timedelta(hours=1))
        ids = [_alert(store, "acme", key) for key in ("a", "b")]
        with psycopg.connect(pg_url.replace("postgresql+psycopg://", "postgresql://")) as other:
            other.execute("SELECT id FROM agent_alert_history WHERE id = %s FOR UPDATE", (ids[1],))
            worker.alerts_changed(ids)
            started = time.monotonic()
            report = worker.run_pass(NOW, full=False)
            assert time.monotonic() - started < 5  # did not wait for the lock
            assert len(report.decisions) == 1
            assert [ticket.dedup_key for ticket in list_service_requests(store, "acme")] == ["a"]
        worker.run_pass(NOW, full=False)  # the held alert went back to the queue
        assert sorted(ticket.dedup_key for ticket in list_service_requests(store, "acme")) == ["a", "b"]
    finally:
        store.close()


def test_a_batch_resolves_open_tickets_notes_the_others_and_queues_the_psa_resolution(store):
    tickets = {key: open_service_request(store, _new("acme", key, _alert(store, "acme", key),
                                                     connector="hooks" if key == "a" else None), NOW)[0]
               for key in ("a", "b", "c", "d")}
    update_service_request(store, tickets["b"].id, "acme", actor="tech", now=NOW, state="acknowledged")
    for key, states in (("c", ["resolved"]), ("d", ["resolved", "closed"])):
        for state in states:
            update_service_request(store, tickets[key].id, "acme", actor="tech", now=NOW, state=state)
    later = NOW + timedelta(minutes=5)
    with store.write() as session:
        resolve_service_requests_in(session, [Resolution(tickets[key].id, "acme", "rule disk", f"{key} cleared.")
                                              for key in ("a", "b", "c", "d")], later)
    details = {key: get_service_request(store, ticket.id, "acme") for key, ticket in tickets.items()}
    assert {key: (detail.request.state, detail.request.updated_at) for key, detail in details.items()} == {
        "a": ("resolved", later), "b": ("resolved", later), "c": ("resolved", later), "d": ("closed", later)}
    assert details["a"].request.resolved_at == later and details["c"].request.resolved_at == NOW
    assert [note.text for note in details["a"].notes] == ["state new → resolved\n\na cleared."]
    assert details["b"].notes[-1].text == "state acknowledged → resolved\n\nb cleared."
    assert [note.text for note in details["c"].notes][-1] == "c cleared."  # resolved already: the note only
    assert [note.text for note in details["d"].notes][-1] == "d cleared."  # closed is final
    with store.read() as session:
        queued = session.execute(select(ticket_outbox.c.action, ticket_outbox.c.idempotency_key)
                                 .order_by(ticket_outbox.c.id)).all()
    assert [tuple(row) for row in queued] == [("create", f"fw-{tickets['a'].id}-create"),
                                             ("resolve", f"fw-{tickets['a'].id}-resolve-{details['a'].notes[0].id}")]
    # the key is free again: a new alert for it opens a new ticket
    again, opened = open_service_request(store, _new("acme", "a", _alert(store, "acme", "a2")), later)
    assert opened and again.id != tickets["a"].id


def test_a_batch_resolution_of_another_clients_ticket_is_not_found_and_writes_nothing(store):
    mine, _ = open_service_request(store, _new("acme", "a", _alert(store, "acme", "a")), NOW)
    other, _ = open_service_request(store, _new("globex", "b", _alert(store, "globex", "b")), NOW)
    with pytest.raises(NotFound), store.write() as session:
        resolve_service_requests_in(session, [Resolution(mine.id, "acme", "rule disk", "fine"),
                                              Resolution(other.id, "acme", "rule disk", "not yours")],
                                    NOW + timedelta(minutes=1))
    for ticket, owner in ((mine, "acme"), (other, "globex")):
        detail = get_service_request(store, ticket.id, owner)
        assert (detail.request.state, detail.notes) == ("new", [])


def _worker_with_key_rule(store: Store) -> TicketWorker:
    """A worker applying one rule: disk alerts, a ticket per alert key; its first pass already run."""
    state = desired([(None, client("acme")), ("acme", resource("AlertTicketRule", "disk",
                                                               {"match": {"alertTypes": ["disk.*"]},
                                                                "dedupKey": "{{ alert.key }}"}))])
    worker = TicketWorker(store, lambda: state)
    worker.run_pass(NOW - timedelta(hours=1))
    return worker


def test_clears_in_one_pass_cost_the_same_few_statements_however_many_they_are(store):
    # Each clear used to cost six round trips (the "others open" check, then read, update, touch,
    # note, re-read); a pass's clears are now resolved together.
    worker = _worker_with_key_rule(store)
    statements: dict[int, int] = {}
    for count in (2, 20):
        keys = [f"k{count}-{n}" for n in range(count)]
        worker.alerts_changed([_alert(store, "acme", key) for key in keys])
        worker.run_pass(NOW, full=False)
        worker.alerts_changed([alert_id for key in keys
                               if (alert_id := clear_alert(store, key, NOW + timedelta(minutes=1))) is not None])
        seen: list[str] = []

        def count_statement(_conn, _cursor, statement, *_args, seen=seen):
            seen.append(statement)

        event.listen(store.engine, "before_cursor_execute", count_statement)
        try:
            worker.run_pass(NOW + timedelta(minutes=1), full=False)
        finally:
            event.remove(store.engine, "before_cursor_execute", count_statement)
        # SQLite inserts the notes one row at a time (SQLAlchemy keeps RETURNING in parameter order that
        # way): in-process calls, not round trips. PostgreSQL sends them as one statement.
        statements[count] = sum(1 for statement in seen if store.dialect == "postgresql"
                                or not statement.startswith("INSERT INTO service_request_notes"))
        assert {ticket.dedup_key: ticket.state for ticket in list_service_requests(store, "acme")
                if ticket.dedup_key in keys} == dict.fromkeys(keys, "resolved")
    assert statements[20] == statements[2], statements


def test_a_key_cleared_and_raised_again_in_one_pass_resolves_its_ticket_and_opens_a_new_one(store):
    worker = _worker_with_key_rule(store)
    first = _alert(store, "acme", "a")
    worker.alerts_changed([first])
    worker.run_pass(NOW, full=False)
    cleared = clear_alert(store, "a", NOW + timedelta(minutes=1))
    second, _ = raise_alert(store, client="acme", agent_id=None, type="disk.low", severity="critical", key="a",
                            message="a is full again", now=NOW + timedelta(minutes=2))
    worker.alerts_changed([cleared or 0, second])
    worker.run_pass(NOW + timedelta(minutes=1), full=False)
    tickets = sorted(list_service_requests(store, "acme"), key=lambda ticket: ticket.id)
    assert [(ticket.state, ticket.source_alert_id) for ticket in tickets] == [("resolved", first), ("new", second)]
    old = get_service_request(store, tickets[0].id, "acme")
    assert [note.text.split("\n")[0] for note in old.notes] == ["state new → resolved"]  # no "Repeated" on it
