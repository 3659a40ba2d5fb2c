"""Ticket sync: a ticket resolved or closed in ConnectWise or HaloPSA resolves here, by polling, through
PSA outages, without being sent back or reopening anything."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from controller.demo.fake_warranty import Scripted, json_reply
from controller.secrets import KeyFolder, SealedSecrets, seal
from controller.store import (
    Store,
    create_enrollment_token,
    enroll_agent,
    get_service_request,
    list_audit,
    list_service_requests,
    raise_alert,
    update_service_request,
)
from controller.store.ticket_sync import connector_health
from controller.tickets.applying import TicketWorker
from controller.tickets.delivering import OutboxDelivery
from controller.tickets.syncing import TicketSync
from schemas.fleet import FleetSpec
from schemas.protocol import Facts
from tests.support.resources import client, desired, resource
from tests.tickets.servers import FakeConnectWise, FakeHalo

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)
CW = {"company_id": "msp", "public_key": "pub-7Hq2", "private_key": "cw-priv-SECRET-91", "client_id": "cid-4c1d"}
HALO = {"client_id": "halo-app-1", "client_secret": "halo-SECRET-e0f3"}


@dataclass
class Rig:
    store: Store
    psa: Any
    worker: TicketWorker
    outbox: OutboxDelivery
    sync: TicketSync
    agent_id: str

    def open_tickets(self, count: int) -> list[int]:
        """``count`` alerts become tickets here and in the PSA."""
        for n in range(count):
            raise_alert(self.store, client="acme", agent_id=self.agent_id, type="disk.low", severity="critical",
                        key=f"agent:{self.agent_id}:disk:/vol{n}", message=f"/vol{n} has 3 % free", now=NOW,
                        detail={"mount": f"/vol{n}"})
        self.worker.run_pass(NOW)
        assert self.outbox.run_pass(NOW).delivered == count
        return sorted(ticket.id for ticket in list_service_requests(self.store, "acme"))

    def external(self, ticket_id: int) -> str:
        found = get_service_request(self.store, ticket_id, "acme").request.external_id
        assert found is not None
        return found

    def state(self, ticket_id: int) -> str:
        return get_service_request(self.store, ticket_id, "acme").request.state


def _rig(tmp_path: Any, database_url: str, psa: Any, settings: dict[str, Any]) -> Iterator[Rig]:
    store = Store.open(database_url)
    keys = KeyFolder(tmp_path / "keys")
    keys.ensure()
    key = keys.keyring().sealing_key
    sealed_settings = {name: seal(value, key) if name in ("publicKey", "privateKey", "clientId", "clientSecret")
                       else value for name, value in settings.items()}
    fleet = FleetSpec.model_validate({"tickets": {"connectors": {"psa": sealed_settings}}})
    state = dataclasses.replace(desired([
        (None, client("acme")),
        ("acme", resource("AlertTicketRule", "disk", {"match": {"alertTypes": ["disk.low"]},
                                                      "dedupKey": "{{ alert.key }}",
                                                      "routing": {"connector": "psa"}}))]), fleet=fleet)
    token = create_enrollment_token(store, "acme", created_by="t", now=NOW)
    agent_id = enroll_agent(store, token, Facts(hostname="web-01", os="linux"), {}, NOW).agent_id
    worker = TicketWorker(store, lambda: state)
    worker.run_pass(NOW - timedelta(hours=1))
    outbox = OutboxDelivery(store, SealedSecrets(keys), lambda: state)
    sync = TicketSync(store, SealedSecrets(keys), lambda: state)
    try:
        yield Rig(store, psa, worker, outbox, sync, agent_id)
    finally:
        sync.close()
        outbox.close()
        store.close()


@pytest.fixture
def cw(tmp_path: Any, database_url: str) -> Iterator[Rig]:
    with FakeConnectWise(**CW) as server:
        yield from _rig(tmp_path, database_url, server, {
            "type": "connectwise", "baseUrl": server.api_url, "companyId": CW["company_id"],
            "publicKey": CW["public_key"], "privateKey": CW["private_key"], "clientId": CW["client_id"],
            "board": "Alerts", "company": "ACME"})


@pytest.fixture
def halo(tmp_path: Any, database_url: str) -> Iterator[Rig]:
    with FakeHalo(**HALO) as server:
        yield from _rig(tmp_path, database_url, server, {
            "type": "halopsa", "baseUrl": server.base_url, "authUrl": server.auth_url,
            "clientId": HALO["client_id"], "clientSecret": HALO["client_secret"], "tickettypeId": 21,
            "haloClientId": 12, "closedStatusIds": [18], "pollMinutes": 2})


def test_a_ticket_closed_in_connectwise_resolves_here_with_who_closed_it(cw: Rig) -> None:
    first, second = cw.open_tickets(2)
    cw.psa.close_in_psa(cw.external(first), "Closed", by="jdoe")
    before = len(cw.psa.requests)
    report = cw.sync.run_pass(NOW + timedelta(minutes=1))
    assert (report.polled, report.checked, report.resolved, report.failed) == (["psa"], 2, 1, {})
    polls = [r for r in cw.psa.requests[before:] if "id in" in r.query.get("conditions", [""])[0]]
    assert len(cw.psa.requests[before:]) == len(polls) == 1, "both tickets in one request"

    assert (cw.state(first), cw.state(second)) == ("resolved", "new")
    detail = get_service_request(cw.store, first, "acme")
    assert detail.notes[-1].author == "connector psa"
    assert "Resolved in ConnectWise by jdoe (Closed)" in detail.notes[-1].text
    assert detail.request.synced_at == NOW + timedelta(minutes=1)
    assert [d.action for d in detail.deliveries] == ["create"], "the PSA's own resolution is not sent back"
    (audit,) = [row for row in list_audit(cw.store, None) if row.action == "service-request.resolved-in-psa"]
    assert (audit.target, audit.client, audit.detail) == (
        str(first), "acme", {"external_id": cw.external(first), "status": "Closed", "closed_by": "jdoe"})


def test_polls_come_every_poll_minutes_and_a_second_look_changes_nothing(cw: Rig) -> None:
    (ticket,) = cw.open_tickets(1)
    cw.psa.close_in_psa(cw.external(ticket), "Resolved", by="jdoe")
    assert cw.sync.run_pass(NOW).resolved == 1
    assert cw.sync.run_pass(NOW + timedelta(minutes=4)).polled == [], "the default interval is 5 minutes"
    again = cw.sync.run_pass(NOW + timedelta(minutes=5))
    assert (again.polled, again.checked, again.resolved) == (["psa"], 0, 0)
    assert len(get_service_request(cw.store, ticket, "acme").notes) == 1


def test_a_ticket_resolved_here_is_never_reopened_by_the_psa(cw: Rig) -> None:
    (ticket,) = cw.open_tickets(1)
    update_service_request(cw.store, ticket, "acme", actor="alice", now=NOW, state="resolved", note="fixed")
    cw.outbox.run_pass(NOW)  # Fleetward's resolution reaches ConnectWise
    cw.psa.tickets[int(cw.external(ticket))].update(status={"id": 1, "name": "New"}, closedFlag=False)
    report = cw.sync.run_pass(NOW + timedelta(minutes=1))
    assert (report.checked, report.resolved) == (0, 0) and cw.state(ticket) == "resolved"


def test_a_ticket_closed_in_halo_resolves_here(halo: Rig) -> None:
    first, second, third = halo.open_tickets(3)
    halo.psa.close_in_psa(halo.external(first), 9, agent_name="Jane Doe")
    halo.psa.close_in_psa(halo.external(second), 18, agent_id=4, agent_name="")
    report = halo.sync.run_pass(NOW + timedelta(minutes=1))
    assert (report.checked, report.resolved) == (3, 2)
    assert [halo.state(t) for t in (first, second, third)] == ["resolved", "resolved", "new"]
    assert "Resolved in HaloPSA by Jane Doe (status 9)" in get_service_request(halo.store, first, "acme").notes[-1].text
    assert "by agent 4 (status 18)" in get_service_request(halo.store, second, "acme").notes[-1].text
    assert halo.sync.run_pass(NOW + timedelta(minutes=2)).polled == []
    assert halo.sync.run_pass(NOW + timedelta(minutes=3)).polled == ["psa"], "pollMinutes: 2"


def test_a_pass_reads_a_bounded_number_of_tickets_longest_unread_first(cw: Rig) -> None:
    tickets = cw.open_tickets(3)
    cw.sync.max_per_poll = 2
    assert cw.sync.run_pass(NOW).checked == 2
    cw.psa.close_in_psa(cw.external(tickets[2]), "Closed")
    report = cw.sync.run_pass(NOW + timedelta(minutes=5))
    assert (report.checked, report.resolved) == (2, 1), "the ticket not read last time is read first"
    assert cw.state(tickets[2]) == "resolved"


@pytest.mark.parametrize(("answer", "in_error"), [
    pytest.param(Scripted(500, b"<html>Internal Server Error</html>"), "HTTP 500", id="500"),
    pytest.param(json_reply(200, {"unexpected": True}), "documented shape", id="garbage-json"),
    pytest.param(Scripted(200, b"\x00\xffnot json", {"Content-Type": "application/json"}), "not JSON",
                 id="garbage-bytes"),
])
def test_a_failed_poll_is_recorded_and_retried_at_the_next_interval(cw: Rig, answer: Scripted,
                                                                    in_error: str) -> None:
    (ticket,) = cw.open_tickets(1)
    cw.psa.close_in_psa(cw.external(ticket), "Closed")
    cw.psa.script.append(answer)
    report = cw.sync.run_pass(NOW)
    assert in_error in report.failed["psa"] and cw.state(ticket) == "new"
    (health,) = connector_health(cw.store)
    assert (health.poll_failures, health.failed_polls, health.last_poll_success_at) == (1, 1, None)
    assert in_error in health.last_poll_error and "<html>" not in health.last_poll_error
    assert cw.sync.run_pass(NOW + timedelta(minutes=5)).resolved == 1
    (health,) = connector_health(cw.store)
    assert (health.poll_failures, health.failed_polls, health.last_poll_error) == (0, 1, "")
    assert health.resolved_from_psa == 1


def test_a_429_retry_after_longer_than_the_interval_postpones_the_next_poll(cw: Rig) -> None:
    (ticket,) = cw.open_tickets(1)
    cw.psa.close_in_psa(cw.external(ticket), "Closed")
    cw.psa.script.append(json_reply(429, {"code": "TooManyRequests"}, headers={"Retry-After": "900"}))
    assert "rate limited" in cw.sync.run_pass(NOW).failed["psa"]
    assert cw.sync.run_pass(NOW + timedelta(minutes=5)).polled == [], "ConnectWise asked for 15 minutes"
    assert cw.sync.run_pass(NOW + timedelta(minutes=15)).resolved == 1


def test_a_short_retry_after_keeps_the_interval(cw: Rig) -> None:
    cw.open_tickets(1)
    cw.psa.script.append(json_reply(429, {"code": "TooManyRequests"}, headers={"Retry-After": "10"}))
    assert cw.sync.run_pass(NOW).failed
    assert cw.sync.run_pass(NOW + timedelta(minutes=1)).polled == []
    assert cw.sync.run_pass(NOW + timedelta(minutes=5)).polled == ["psa"]


def test_wrong_credentials_are_a_failed_poll_with_the_fix(cw: Rig) -> None:
    cw.open_tickets(1)
    cw.psa.credentials = ("msp+pub-7Hq2", "rotated")
    report = cw.sync.run_pass(NOW)
    assert "HTTP 401" in report.failed["psa"] and CW["private_key"] not in report.failed["psa"]
    (health,) = connector_health(cw.store)
    assert health.failed_polls == 1


def test_polling_off_and_webhooks_are_not_polled(cw: Rig) -> None:
    cw.open_tickets(1)
    state = cw.sync.desired()
    assert state is not None
    settings = state.fleet.tickets.connectors["psa"].model_copy(update={"poll_minutes": 0})
    fleet = state.fleet.model_copy(update={"tickets": state.fleet.tickets.model_copy(
        update={"connectors": {"psa": settings}})})
    cw.sync.desired = lambda: dataclasses.replace(state, fleet=fleet)
    before = len(cw.psa.requests)
    assert cw.sync.run_pass(NOW).polled == [] and len(cw.psa.requests) == before


def test_two_controllers_on_one_database_poll_once_per_interval(cw: Rig) -> None:
    cw.open_tickets(1)
    other = TicketSync(cw.store, cw.sync.sealed, cw.sync.desired)
    try:
        assert cw.sync.run_pass(NOW).polled == ["psa"]
        assert other.run_pass(NOW + timedelta(seconds=30)).polled == []
    finally:
        other.close()
