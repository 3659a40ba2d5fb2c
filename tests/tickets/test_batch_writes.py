"""The ticket worker's batch writes: many tickets, notes and links in a few statements, same effects as one by one."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from controller.errors import NotFound
from controller.store import (
    NewServiceRequest,
    Store,
    get_service_request,
    list_alerts,
    list_service_requests,
    open_service_request,
    raise_alert,
)
from controller.store.service_requests import NewNote, note_service_requests_in, open_service_requests_in
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
