"""Alerts in the store become tickets in the store, by the rules of the applied revision."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from controller.store import (
    Store,
    clear_alert,
    create_enrollment_token,
    enroll_agent,
    get_service_request,
    list_alerts,
    list_service_requests,
    raise_alert,
    update_service_request,
)
from controller.tickets.applying import TicketWorker
from controller.tickets.rules import NoRule, Wait
from schemas.protocol import Facts
from tests.support.resources import client, desired, group, resource

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)


@pytest.fixture
def store(database_url):
    opened = Store.open(database_url)
    yield opened
    opened.close()


def _state(*rules):
    return desired([(None, client("acme")), (None, group("web", {"role": "web"})), *rules])


def _rule(name: str, spec: dict, scope: str | None = "acme"):
    return (scope, resource("AlertTicketRule", name, spec))


def _agent(store: Store, host: str = "web-01") -> str:
    token = create_enrollment_token(store, "acme", created_by="t", now=NOW)
    return enroll_agent(store, token, Facts(hostname=host, os="linux"), {"role": "web"}, NOW).agent_id


def _disk(store: Store, agent_id: str, when: datetime, message: str = "/ has 3 % free") -> int:
    alert_id, _ = raise_alert(store, client="acme", agent_id=agent_id, type="disk.low", severity="critical",
                              key=f"agent:{agent_id}:disk:/", message=message, now=when)
    return alert_id


def _worker(store: Store, state) -> TicketWorker:
    worker = TicketWorker(store, lambda: state)
    worker.run_pass(NOW - timedelta(hours=1))  # the first pass sets the starting point
    return worker


def test_a_matching_alert_opens_one_ticket_and_clearing_resolves_it(store):
    state = _state(_rule("disk", {"match": {"alertTypes": ["disk.*"], "groups": ["web"]},
                                  "title": "{{ alert.message }} on {{ device.hostname }}",
                                  "routing": {"assignee": "alice", "board": "Ops"}}))
    agent_id = _agent(store)
    worker = _worker(store, state)
    alert_id = _disk(store, agent_id, NOW)
    worker.run_pass(NOW)
    (ticket,) = list_service_requests(store, "acme")
    assert (ticket.title, ticket.priority, ticket.assignee, ticket.board, ticket.rule, ticket.source_alert_id) == (
        "/ has 3 % free on web-01", "high", "alice", "Ops", "acme.disk", alert_id)
    _disk(store, agent_id, NOW + timedelta(minutes=1), message="/ has 2 % free")  # news: a note, not a ticket
    worker.run_pass(NOW + timedelta(minutes=1))
    clear_alert(store, f"agent:{agent_id}:disk:/", NOW + timedelta(minutes=5))
    worker.run_pass(NOW + timedelta(minutes=5))
    (ticket,) = list_service_requests(store, "acme")
    assert ticket.state == "resolved"
    notes = [note.text for note in get_service_request(store, ticket.id, "acme").notes]
    assert len(notes) == 2 and "raised again" in notes[0] and "cleared" in notes[1]


def test_no_rule_no_ticket(store):
    state = _state(_rule("cpu-only", {"match": {"alertTypes": ["cpu.*"]}}))
    worker = _worker(store, state)
    _disk(store, _agent(store), NOW)
    report = worker.run_pass(NOW)
    assert isinstance(report.decisions[0], NoRule) and list_service_requests(store, None) == []


def test_a_persist_window_waits_and_a_flap_opens_nothing(store):
    state = _state(_rule("disk", {"match": {"alertTypes": ["disk.low"]}, "persistMinutes": 10}))
    agent_id = _agent(store)
    worker = _worker(store, state)
    _disk(store, agent_id, NOW)
    assert isinstance(worker.run_pass(NOW).decisions[0], Wait)
    clear_alert(store, f"agent:{agent_id}:disk:/", NOW + timedelta(minutes=3))  # a flap
    worker.run_pass(NOW + timedelta(minutes=3))
    worker.run_pass(NOW + timedelta(minutes=11))
    assert list_service_requests(store, None) == []
    _disk(store, agent_id, NOW + timedelta(minutes=20))  # this time it stays
    worker.run_pass(NOW + timedelta(minutes=20))
    worker.run_pass(NOW + timedelta(minutes=31))
    assert len(list_service_requests(store, None)) == 1


def test_a_restarted_worker_picks_up_open_alerts_without_a_ticket(store):
    state = _state(_rule("disk", {"match": {"alertTypes": ["disk.low"]}}))
    _disk(store, _agent(store), NOW)
    TicketWorker(store, lambda: state).run_pass(NOW)  # a fresh worker: its first pass looks at open alerts
    assert len(list_service_requests(store, "acme")) == 1


def test_unacknowledged_tickets_escalate_once_per_step(store):
    state = _state(_rule("disk", {"match": {"alertTypes": ["disk.low"]}, "escalation": [
        {"afterMinutes": 30, "priority": "critical"}, {"afterMinutes": 60, "assignee": "lead"}]}))
    worker = _worker(store, state)
    _disk(store, _agent(store), NOW)
    worker.run_pass(NOW)
    (ticket,) = list_service_requests(store, "acme")
    opened = ticket.created_at
    assert worker.run_pass(opened + timedelta(minutes=31)).escalated == 1
    assert worker.run_pass(opened + timedelta(minutes=32)).escalated == 0  # each step once
    (ticket,) = list_service_requests(store, "acme")
    assert (ticket.priority, ticket.assignee) == ("critical", None)
    update_service_request(store, ticket.id, "acme", actor="bob", now=opened, state="acknowledged")
    assert worker.run_pass(opened + timedelta(minutes=90)).escalated == 0  # acknowledged: no more


def test_a_shared_ticket_stays_open_until_its_last_alert_clears(store):
    state = _state(_rule("disk", {"match": {"alertTypes": ["disk.low"]}}))
    agent_id = _agent(store)
    worker = _worker(store, state)
    for volume in ("/", "/var"):
        raise_alert(store, client="acme", agent_id=agent_id, type="disk.low", severity="critical",
                    key=f"agent:{agent_id}:disk:{volume}", message=f"{volume} is full", now=NOW)
    worker.run_pass(NOW)
    assert len(list_service_requests(store, "acme")) == 1  # one device, one alert type: one ticket
    clear_alert(store, f"agent:{agent_id}:disk:/", NOW + timedelta(minutes=1))
    worker.run_pass(NOW + timedelta(minutes=1))
    assert list_service_requests(store, "acme")[0].state == "new"
    clear_alert(store, f"agent:{agent_id}:disk:/var", NOW + timedelta(minutes=2))
    worker.run_pass(NOW + timedelta(minutes=2))
    assert list_service_requests(store, "acme")[0].state == "resolved"


def test_an_alert_the_agent_queued_long_ago_still_opens_a_ticket_when_it_arrives(store):
    # The agent saw it an hour ago but could not reach the controller; it arrives after the worker's
    # passes have moved on. The change is dated when the controller stored it, so the worker sees it.
    state = _state(_rule("disk", {"match": {"alertTypes": ["disk.*"]}}))
    agent_id = _agent(store)
    worker = _worker(store, state)
    worker.run_pass(NOW)
    alert_id, _ = raise_alert(store, client="acme", agent_id=agent_id, type="disk.low", severity="critical",
                              key=f"agent:{agent_id}:disk:/", message="/ has 3 % free",
                              now=NOW + timedelta(seconds=5), observed_at=NOW - timedelta(hours=1))
    worker.run_pass(NOW + timedelta(seconds=6))
    (ticket,) = list_service_requests(store, "acme")
    assert ticket.source_alert_id == alert_id
    (stored,) = list_alerts(store, "acme")
    assert (stored.raised_at, stored.updated_at) == (NOW - timedelta(hours=1), NOW + timedelta(seconds=5))
