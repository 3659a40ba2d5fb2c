"""The ticket outbox: an alert's ticket reaches a webhook receiver in order, through outages, once."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from controller.demo.fake_warranty import Scripted
from controller.secrets import KeyFolder, SealedSecrets, seal
from controller.store import (
    Store,
    clear_alert,
    create_enrollment_token,
    enroll_agent,
    get_service_request,
    list_service_requests,
    raise_alert,
)
from controller.tickets.applying import TicketWorker
from controller.tickets.delivering import OutboxDelivery
from schemas.fleet import FleetSpec
from schemas.protocol import Facts
from tests.support.resources import client, desired, resource
from tests.tickets.servers import FakeWebhookReceiver

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)
SECRET = "whsec-0123456789abcdef"


@pytest.fixture
def setup(tmp_path, database_url):
    store = Store.open(database_url)
    keys = KeyFolder(tmp_path / "keys")
    keys.ensure()
    sealed = SealedSecrets(keys)
    with FakeWebhookReceiver(SECRET) as receiver:
        fleet = FleetSpec.model_validate({"tickets": {"connectors": {"hooks": {
            "type": "webhook", "url": receiver.base_url, "secret": seal(SECRET, keys.keyring().sealing_key)}}}})
        state = dataclasses.replace(desired([
            (None, client("acme")),
            ("acme", resource("AlertTicketRule", "disk", {"match": {"alertTypes": ["disk.low"]},
                                                          "routing": {"connector": "hooks"}}))]), fleet=fleet)
        token = create_enrollment_token(store, "acme", created_by="t", now=NOW)
        agent_id = enroll_agent(store, token, Facts(hostname="web-01", os="linux"), {}, NOW).agent_id
        worker = TicketWorker(store, lambda: state)
        worker.run_pass(NOW - timedelta(hours=1))
        outbox = OutboxDelivery(store, sealed, lambda: state)
        try:
            yield store, receiver, worker, outbox, agent_id
        finally:
            outbox.close()
            store.close()


def _events(receiver: FakeWebhookReceiver) -> list[str]:
    return [event["event"] for event in receiver.events.values()]


def test_create_note_and_resolve_reach_the_receiver_in_order(setup):
    store, receiver, worker, outbox, agent_id = setup
    raise_alert(store, client="acme", agent_id=agent_id, type="disk.low", severity="critical",
                key=f"agent:{agent_id}:disk:/", message="/ has 3 % free", now=NOW)
    worker.run_pass(NOW)
    clear_alert(store, f"agent:{agent_id}:disk:/", NOW + timedelta(minutes=1))
    worker.run_pass(NOW + timedelta(minutes=1))
    assert outbox.run_pass(NOW + timedelta(minutes=1)).delivered == 1  # the resolve waits for the create
    assert outbox.run_pass(NOW + timedelta(minutes=1)).delivered == 1
    assert _events(receiver) == ["ticket.created", "ticket.resolved"]
    (ticket,) = list_service_requests(store, "acme")
    assert ticket.connector == "hooks" and ticket.external_id
    detail = get_service_request(store, ticket.id, "acme")
    assert [(d.action, d.state) for d in detail.deliveries] == [("create", "delivered"), ("resolve", "delivered")]


def test_an_outage_is_retried_later_and_never_duplicates(setup):
    store, receiver, worker, outbox, agent_id = setup
    receiver.script.append(Scripted(503, b"down for maintenance"))
    raise_alert(store, client="acme", agent_id=agent_id, type="disk.low", severity="critical",
                key=f"agent:{agent_id}:disk:/", message="/ has 3 % free", now=NOW)
    worker.run_pass(NOW)
    report = outbox.run_pass(NOW)
    assert (report.delivered, report.retrying) == (0, 1)
    (ticket,) = list_service_requests(store, "acme")
    (delivery,) = get_service_request(store, ticket.id, "acme").deliveries
    assert delivery.state == "pending" and delivery.next_attempt_at > NOW and "503" in delivery.last_error
    assert outbox.run_pass(NOW + timedelta(seconds=5)).delivered == 0  # not due yet
    assert outbox.run_pass(NOW + timedelta(hours=1)).delivered == 1
    assert _events(receiver) == ["ticket.created"]


def test_a_missing_connector_fails_with_the_reason(setup):
    store, _receiver, worker, outbox, agent_id = setup
    outbox.desired = lambda: desired([(None, client("acme"))])  # the connector is gone from fleet.yaml
    raise_alert(store, client="acme", agent_id=agent_id, type="disk.low", severity="critical",
                key=f"agent:{agent_id}:disk:/", message="/ has 3 % free", now=NOW)
    worker.run_pass(NOW)
    assert outbox.run_pass(NOW).failed == 1
    (ticket,) = list_service_requests(store, "acme")
    (delivery,) = get_service_request(store, ticket.id, "acme").deliveries
    assert delivery.state == "failed" and "no connector 'hooks'" in delivery.last_error


def test_the_ticket_names_the_device_it_came_from(setup):
    store, receiver, worker, outbox, agent_id = setup
    raise_alert(store, client="acme", agent_id=agent_id, type="disk.low", severity="critical",
                key=f"agent:{agent_id}:disk:/", message="/ has 3 % free", now=NOW)
    worker.run_pass(NOW)
    assert outbox.run_pass(NOW).delivered == 1
    (event,) = receiver.events.values()
    assert event["ticket"]["hostname"] == "web-01", event
