"""ConnectWise Manage and HaloPSA connectors against fakes that check what the vendors check."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from controller.tickets.connectors import (
    ConnectorRejected,
    ConnectorSetupError,
    ConnectorUnavailable,
    ConnectWiseConnector,
    HaloPsaConnector,
)
from tests.tickets.servers import FakeConnectWise, FakeHalo, ticket_payload

CW = {"company_id": "msp", "public_key": "pub-7Hq2", "private_key": "cw-priv-SECRET-91", "client_id": "cid-4c1d"}
HALO = {"client_id": "halo-app-1", "client_secret": "halo-SECRET-e0f3"}


@pytest.fixture
def cw() -> Iterator[FakeConnectWise]:
    with FakeConnectWise(**CW) as server:
        yield server


@pytest.fixture
def halo() -> Iterator[FakeHalo]:
    with FakeHalo(**HALO) as server:
        yield server


def cw_connector(server: FakeConnectWise, **changes: object) -> ConnectWiseConnector:
    settings: dict[str, object] = {**CW, "default_board": "Alerts", "default_company": "ACME", **changes}
    return ConnectWiseConnector(server.api_url, **settings)  # type: ignore[arg-type]


def halo_connector(server: FakeHalo, **changes: object) -> HaloPsaConnector:
    settings: dict[str, object] = {**HALO, "auth_url": server.auth_url, "tickettype_id": 21,
                                   "default_client_id": 12, **changes}
    return HaloPsaConnector(server.base_url, **settings)  # type: ignore[arg-type]


# ConnectWise

def test_connectwise_create_note_resolve_fetch(cw: FakeConnectWise) -> None:
    connector = cw_connector(cw)
    long_title = "Disk C: almost full on ACME-LT-017 " + "x" * 120
    ticket = connector.create(ticket_payload(title=long_title, priority="critical", company_id="GLOBEX"))
    assert connector.fetch_state(ticket.id) == "open"
    connector.add_note(ticket.id, "Raised again")
    connector.resolve(ticket.id, "Cleared")
    assert connector.fetch_state(ticket.id) == "resolved"
    connector.close()

    stored = cw.tickets[int(ticket.id)]
    assert len(stored["summary"]) == 100 and stored["summary"].startswith("Disk C: almost full")
    assert stored["company"] == {"identifier": "GLOBEX"} and stored["board"] == {"name": "Alerts"}
    assert stored["priority"] == {"name": "Priority 1 - Emergency Response"}
    assert stored["externalXRef"] == "fw-ticket-41" and "ACME-LT-017" in stored["initialDescription"]
    assert [n["text"] for n in cw.notes[int(ticket.id)]] == ["Raised again", "Cleared"]
    assert cw.notes[int(ticket.id)][1]["resolutionFlag"] is True
    assert ticket.url is not None and f"service_recid={ticket.id}" in ticket.url


def test_connectwise_closed_status_other_than_resolved_reads_closed(cw: FakeConnectWise) -> None:
    connector = cw_connector(cw)
    ticket = connector.create(ticket_payload())
    cw.tickets[int(ticket.id)].update(status={"id": 5, "name": "Closed"}, closedFlag=True)
    assert connector.fetch_state(ticket.id) == "closed"
    connector.close()


def test_connectwise_retried_create_after_a_lost_answer_returns_the_existing_ticket(cw: FakeConnectWise) -> None:
    cw.lose_answers = 1
    connector = cw_connector(cw, timeout=0.5)
    with pytest.raises(ConnectorUnavailable) as caught:
        connector.create(ticket_payload())
    assert caught.value.retryable
    assert len(cw.tickets) == 1, "the PSA made the ticket; only the answer was lost"
    again = connector.create(ticket_payload())
    other = connector.create(ticket_payload("fw-ticket-42"))
    connector.close()
    assert again.id == str(next(iter(cw.tickets))) and len(cw.tickets) == 2 and other.id != again.id


def test_connectwise_unknown_board_is_rejected_with_what_to_fix(cw: FakeConnectWise) -> None:
    connector = cw_connector(cw)
    with pytest.raises(ConnectorRejected) as caught:
        connector.create(ticket_payload(board="No Such Board"))
    connector.close()
    assert caught.value.status == 400 and not caught.value.retryable
    assert "InvalidObject" in str(caught.value) and "board" in caught.value.hint
    assert "No Such Board" not in str(caught.value), "the vendor's body is not echoed"


def test_connectwise_without_company_identifier_is_a_setup_error(cw: FakeConnectWise) -> None:
    connector = cw_connector(cw, default_company=None)
    with pytest.raises(ConnectorSetupError) as caught:
        connector.create(ticket_payload())
    connector.close()
    assert not caught.value.retryable and "company" in caught.value.hint


@pytest.mark.parametrize("wrong", [{"private_key": "guess"}, {"client_id": "other"}], ids=["bad-key", "bad-client-id"])
def test_connectwise_wrong_credentials_are_rejected(cw: FakeConnectWise, wrong: dict[str, str]) -> None:
    connector = cw_connector(cw, **wrong)
    with pytest.raises(ConnectorRejected) as caught:
        connector.create(ticket_payload())
    connector.close()
    assert caught.value.status == 401 and "public key" in caught.value.hint


def test_a_ticket_id_not_from_the_psa_is_refused_before_any_request(cw: FakeConnectWise) -> None:
    connector = cw_connector(cw)
    with pytest.raises(ConnectorRejected):
        connector.add_note("../../system/members", "x")
    connector.close()
    assert cw.requests == []


# HaloPSA

def test_halo_create_note_resolve_fetch(halo: FakeHalo) -> None:
    connector = halo_connector(halo)
    ticket = connector.create(ticket_payload(priority="low", company_id="34", board="Service Desk",
                                             assignee="7"))
    assert connector.fetch_state(ticket.id) == "open"
    connector.add_note(ticket.id, "Raised again")
    connector.resolve(ticket.id, "Cleared")
    assert connector.fetch_state(ticket.id) == "resolved"
    connector.close()

    stored = halo.tickets[int(ticket.id)]
    assert (stored["client_id"], stored["priority_id"], stored["tickettype_id"]) == (34, 4, 21)
    assert stored["team"] == "Service Desk" and stored["agent_id"] == 7
    assert stored["details"].splitlines()[-1] == "Fleetward ticket: fw-ticket-41"
    assert [a["note"] for a in halo.actions[int(ticket.id)]] == ["Raised again", "Cleared"]
    assert all(a["hiddenfromuser"] for a in halo.actions[int(ticket.id)])
    assert halo.tokens_issued == 1, "one token serves every call until it expires"


def test_halo_retried_create_after_a_lost_answer_returns_the_existing_ticket(halo: FakeHalo) -> None:
    halo.lose_answers = 1
    connector = halo_connector(halo, timeout=0.5)
    with pytest.raises(ConnectorUnavailable):
        connector.create(ticket_payload())
    assert len(halo.tickets) == 1
    again = connector.create(ticket_payload())
    connector.close()
    assert again.id == str(next(iter(halo.tickets))) and len(halo.tickets) == 1


def test_halo_a_ticket_merely_mentioning_the_key_is_not_taken_for_it(halo: FakeHalo) -> None:
    connector = halo_connector(halo)
    first = connector.create(ticket_payload("fw-ticket-41"))
    second = connector.create(ticket_payload("fw-ticket-4"))  # Halo's free-text search for it hits fw-ticket-41
    third = connector.create(ticket_payload("fw-ticket-4"))
    connector.close()
    assert second.id != first.id and third.id == second.id and len(halo.tickets) == 2


def test_halo_token_is_renewed_once_when_the_api_refuses_it(halo: FakeHalo) -> None:
    connector = halo_connector(halo)
    ticket = connector.create(ticket_payload())
    halo.revoke_tokens()
    assert connector.fetch_state(ticket.id) == "open"
    connector.close()
    assert halo.tokens_issued == 2


def test_halo_token_is_renewed_when_it_expires(halo: FakeHalo) -> None:
    now = [1000.0]
    connector = halo_connector(halo, clock=lambda: now[0])
    ticket = connector.create(ticket_payload())
    now[0] += 3600
    connector.fetch_state(ticket.id)
    connector.close()
    assert halo.tokens_issued == 2
    assert not any(r.headers.get("authorization") == "Bearer " for r in halo.requests)


def test_halo_wrong_secret_is_rejected_at_the_token_endpoint_with_a_hint(halo: FakeHalo) -> None:
    connector = halo_connector(halo, client_secret="guess")
    with pytest.raises(ConnectorRejected) as caught:
        connector.create(ticket_payload())
    connector.close()
    assert caught.value.status == 401 and "client id and secret" in caught.value.hint
    assert halo.tickets == {}


def test_halo_non_numeric_client_is_a_setup_error(halo: FakeHalo) -> None:
    connector = halo_connector(halo, default_client_id=None)
    with pytest.raises(ConnectorSetupError):
        connector.create(ticket_payload(company_id="ACME"))
    connector.close()


def test_plain_http_to_a_remote_host_is_refused() -> None:
    with pytest.raises(ConnectorSetupError) as caught:
        ConnectWiseConnector("http://psa.example.com/v4_6_release/apis/3.0", **CW, default_board="Alerts")
    assert "https" in caught.value.hint


def test_halo_a_persistent_401_after_a_fresh_token_is_rejected(halo: FakeHalo) -> None:
    from controller.demo.fake_warranty import Scripted

    connector = halo_connector(halo)
    ticket = connector.create(ticket_payload())
    halo.script.extend([Scripted(401, b""), Scripted(401, b"")])
    with pytest.raises(ConnectorRejected) as caught:
        connector.fetch_state(ticket.id)
    connector.close()
    assert caught.value.status == 401 and halo.tokens_issued == 2


# Reading state back (polling)

def test_connectwise_reads_a_batch_of_states_in_one_request(cw: FakeConnectWise) -> None:
    connector = cw_connector(cw, closed_statuses=["Waiting Archive"])
    open_one, closed, resolved, archived = (connector.create(ticket_payload(f"fw-ticket-{n}")) for n in range(4))
    cw.close_in_psa(closed.id, "Closed", by="jdoe")
    cw.close_in_psa(resolved.id, "Resolved", by="asmith")
    cw.boards["Alerts"].append("Waiting Archive")
    cw.close_in_psa(archived.id, "Waiting Archive")
    before = len(cw.requests)
    states = connector.fetch_states([open_one.id, closed.id, resolved.id, archived.id, "999999"])
    connector.close()

    (poll,) = cw.requests[before:]
    assert poll.method == "GET" and poll.query["conditions"] == [
        f"id in ({open_one.id},{closed.id},{resolved.id},{archived.id},999999)"]
    assert {key: (found.state, found.status, found.closed_by) for key, found in states.items()} == {
        open_one.id: ("open", "New", None), closed.id: ("closed", "Closed", "jdoe"),
        resolved.id: ("resolved", "Resolved", "asmith"), archived.id: ("closed", "Waiting Archive", "jdoe")}


def test_connectwise_poll_answer_of_the_wrong_shape_is_retryable(cw: FakeConnectWise) -> None:
    from controller.demo.fake_warranty import json_reply
    from controller.tickets.connectors import ConnectorAnswerInvalid

    connector = cw_connector(cw)
    cw.script.append(json_reply(200, {"tickets": "not an array"}))
    with pytest.raises(ConnectorAnswerInvalid) as caught:
        connector.fetch_states(["1001"])
    connector.close()
    assert caught.value.retryable


def test_halo_reads_states_ticket_by_ticket_and_skips_deleted_ones(halo: FakeHalo) -> None:
    connector = halo_connector(halo, closed_status_ids=[18])
    open_one, closed, custom = (connector.create(ticket_payload(f"fw-ticket-{n}")) for n in range(3))
    halo.close_in_psa(closed.id, 9, agent_name="Jane Doe")
    halo.close_in_psa(custom.id, 18, agent_id=4, agent_name="")
    states = connector.fetch_states([open_one.id, closed.id, custom.id, "424242"])
    connector.close()
    assert {key: (found.state, found.closed_by) for key, found in states.items()} == {
        open_one.id: ("open", None), closed.id: ("resolved", "Jane Doe"), custom.id: ("closed", "agent 4")}
