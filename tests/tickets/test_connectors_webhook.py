"""The generic webhook connector against a receiver that verifies signatures and dedupes by key."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from controller.tickets.connectors import ConnectorRejected, ConnectorUnavailable, WebhookConnector
from controller.tickets.connectors.webhook import signature
from tests.tickets.servers import FakeWebhookReceiver, ticket_payload

SECRET = "whsec-3b1f9c0e-SECRET"


@pytest.fixture
def receiver() -> Iterator[FakeWebhookReceiver]:
    with FakeWebhookReceiver(SECRET) as server:
        yield server


def test_create_note_resolve_are_signed_events_the_receiver_accepts(receiver: FakeWebhookReceiver) -> None:
    connector = WebhookConnector(receiver.base_url + "/hooks/fleetward", SECRET)
    ticket = connector.create(ticket_payload(board="Alerts"))
    connector.add_note(ticket.id, "Alert raised again (3rd time)")
    connector.resolve(ticket.id, "Alert cleared: 42% free")
    connector.close()

    assert ticket.id.startswith("WH-") and ticket.url == "https://tickets.example/fw-ticket-41"
    events = [json.loads(r.body) for r in receiver.requests]
    assert [e["event"] for e in events] == ["ticket.created", "ticket.note", "ticket.resolved"]
    assert events[0]["ticket"]["title"] == "Disk C: almost full on ACME-LT-017"
    assert events[0]["ticket"]["board"] == "Alerts"
    assert events[1] == {"event": "ticket.note", "idempotency_key": events[1]["idempotency_key"],
                         "external_id": ticket.id, "note": "Alert raised again (3rd time)"}
    assert events[2]["external_id"] == ticket.id and events[2]["note"] == "Alert cleared: 42% free"
    assert len(receiver.events) == 3, "each event is accepted once"
    for request in receiver.requests:  # what a receiver in another language would check
        assert request.headers["x-fleetward-signature"] == signature(
            SECRET, request.headers["x-fleetward-timestamp"], request.body)
        assert request.headers["x-fleetward-event"] == json.loads(request.body)["event"]


def test_a_wrong_secret_is_refused_with_a_fix_hint(receiver: FakeWebhookReceiver) -> None:
    connector = WebhookConnector(receiver.base_url, "not-the-secret")
    with pytest.raises(ConnectorRejected) as caught:
        connector.create(ticket_payload())
    connector.close()
    assert not caught.value.retryable and caught.value.status == 401
    assert "shared secret" in caught.value.hint
    assert "not-the-secret" not in str(caught.value)


def test_the_timestamp_is_signed_so_an_old_event_replayed_is_refused(receiver: FakeWebhookReceiver) -> None:
    connector = WebhookConnector(receiver.base_url, SECRET, clock=lambda: time.time() - 3600)
    with pytest.raises(ConnectorRejected):
        connector.create(ticket_payload())
    connector.close()
    assert receiver.events == {}


def test_a_resent_create_after_a_lost_answer_is_the_same_ticket(receiver: FakeWebhookReceiver) -> None:
    receiver.lose_answers = 1
    connector = WebhookConnector(receiver.base_url, SECRET, timeout=0.5)
    with pytest.raises(ConnectorUnavailable) as caught:
        connector.create(ticket_payload())
    assert caught.value.retryable
    again = connector.create(ticket_payload())
    connector.close()
    assert len(receiver.requests) == 2
    assert receiver.requests[0].headers["idempotency-key"] == receiver.requests[1].headers["idempotency-key"]
    assert list(receiver.events) == ["fw-ticket-41"] and again.id == receiver.answers["fw-ticket-41"]["id"]


def test_a_notes_key_is_stable_for_the_same_note_and_differs_between_notes(receiver: FakeWebhookReceiver) -> None:
    connector = WebhookConnector(receiver.base_url, SECRET)
    connector.add_note("WH-1", "first")
    connector.add_note("WH-1", "first")
    connector.add_note("WH-1", "second")
    connector.close()
    keys = [r.headers["idempotency-key"] for r in receiver.requests]
    assert keys[0] == keys[1] != keys[2]
    assert len(receiver.events) == 2


def test_fetch_state_is_not_supported_and_says_so_with_none(receiver: FakeWebhookReceiver) -> None:
    connector = WebhookConnector(receiver.base_url, SECRET)
    assert connector.fetch_state("WH-1") is None
    connector.close()
    assert receiver.requests == []


def test_a_receiver_answering_plain_text_gets_the_key_as_ticket_id(receiver: FakeWebhookReceiver) -> None:
    from controller.demo.fake_warranty import Scripted

    receiver.script.append(Scripted(202, b"queued", {"Content-Type": "text/plain"}))
    connector = WebhookConnector(receiver.base_url, SECRET)
    assert connector.create(ticket_payload("fw-7")).id == "fw-7"
    connector.close()
