"""How every connector reports a PSA that is down, slow, throttling, refusing or answering garbage."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from controller.demo.fake_warranty import Scripted
from controller.tickets.connectors import (
    ConnectorAnswerInvalid,
    ConnectorError,
    ConnectorRejected,
    ConnectorThrottled,
    ConnectorUnavailable,
    ConnectWiseConnector,
    HaloPsaConnector,
    TicketConnector,
    WebhookConnector,
)
from controller.tickets.connectors.calling import MAX_RETRY_AFTER
from tests.tickets.servers import FakeConnectWise, FakeHalo, FakePsaServer, FakeWebhookReceiver, ticket_payload

SECRETS = ("whsec-SECRET-aa11", "cw-priv-SECRET-bb22", "halo-SECRET-cc33")


@dataclass
class Setup:
    server: FakePsaServer
    connect: Callable[..., TicketConnector]


def _webhook() -> Setup:
    server = FakeWebhookReceiver(SECRETS[0])
    return Setup(server, lambda **kw: WebhookConnector(server.base_url, SECRETS[0], **kw))


def _connectwise() -> Setup:
    creds = {"company_id": "msp", "public_key": "pub-1", "private_key": SECRETS[1], "client_id": "cid-1"}
    server = FakeConnectWise(**creds)
    return Setup(server, lambda **kw: ConnectWiseConnector(server.api_url, **creds, default_board="Alerts",
                                                           default_company="ACME", **kw))


def _halo() -> Setup:
    server = FakeHalo(client_id="app-1", client_secret=SECRETS[2])
    return Setup(server, lambda **kw: HaloPsaConnector(server.base_url, auth_url=server.auth_url, client_id="app-1",
                                                       client_secret=SECRETS[2], tickettype_id=1,
                                                       default_client_id=12, **kw))


@pytest.fixture(params=[_webhook, _connectwise, _halo], ids=["webhook", "connectwise", "halopsa"])
def setup(request: pytest.FixtureRequest) -> Iterator[Setup]:
    made: Setup = request.param()
    with made.server:
        yield made


def create_fails(setup: Setup, reply: Scripted, *, times: int = 1, **connector_kwargs: object) -> ConnectorError:
    setup.server.script.extend([reply] * times)
    connector = setup.connect(**connector_kwargs)
    with pytest.raises(ConnectorError) as caught:
        connector.create(ticket_payload())
    connector.close()
    return caught.value


@pytest.mark.parametrize("status", [401, 403])
def test_refused_credentials_are_permanent_with_a_fix_hint(setup: Setup, status: int) -> None:
    body = b'{"code":"Unauthorized","message":"' + SECRETS[1].encode() + b'"}'
    error = create_fails(setup, Scripted(status, body), times=2)  # Halo tries a fresh token once on 401
    assert isinstance(error, ConnectorRejected) and not error.retryable and error.status == status
    assert error.hint and error.hint != "fix the connector's settings"
    assert SECRETS[1] not in str(error), "the vendor's message (which may echo input) is not quoted"


@pytest.mark.parametrize(("header", "delay"), [("30", 30.0), ("999999", MAX_RETRY_AFTER)], ids=["asked", "capped"])
def test_429_is_throttled_with_the_delay_asked_for(setup: Setup, header: str, delay: float) -> None:
    error = create_fails(setup, Scripted(429, b"{}", {"Retry-After": header}))
    assert isinstance(error, ConnectorThrottled) and error.retryable and error.delay == delay


def test_500_is_unavailable_and_retryable(setup: Setup) -> None:
    error = create_fails(setup, Scripted(500, b"<html>oops</html>", {"Content-Type": "text/html"}))
    assert isinstance(error, ConnectorUnavailable) and error.retryable


def test_a_slow_psa_times_out_as_unavailable(setup: Setup) -> None:
    error = create_fails(setup, Scripted(200, b"{}", delay=2.0), timeout=0.3)
    assert isinstance(error, ConnectorUnavailable) and error.retryable and "timed out" in str(error)


def test_a_refused_connection_is_unavailable(setup: Setup) -> None:
    connector = setup.connect()
    setup.server.close()
    with pytest.raises(ConnectorUnavailable):
        connector.create(ticket_payload())
    connector.close()


@pytest.mark.parametrize("body", [b"\x00garbage{", json.dumps({"unexpected": True}).encode()],
                         ids=["not-json", "wrong-shape"])
def test_garbage_is_an_invalid_answer(setup: Setup, body: bytes) -> None:
    if isinstance(setup.server, FakeWebhookReceiver) and body.startswith(b"{"):  # a receiver's id is optional
        setup.server.script.append(Scripted(200, body))
        connector = setup.connect()
        assert connector.create(ticket_payload()).id == "fw-ticket-41"
        connector.close()
        return
    error = create_fails(setup, Scripted(200, body))
    assert isinstance(error, ConnectorAnswerInvalid) and error.retryable


def test_a_huge_answer_is_cut_off_as_invalid(setup: Setup) -> None:
    error = create_fails(setup, Scripted(200, b"[" + b"0," * (1024 * 1024) + b"0]"))
    assert isinstance(error, ConnectorAnswerInvalid) and "larger than" in str(error)


def test_credentials_never_reach_logs_or_errors(setup: Setup, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    connector = setup.connect()
    ticket = connector.create(ticket_payload())
    connector.add_note(ticket.id, "again")
    setup.server.script.append(Scripted(403, b"{}"))
    with pytest.raises(ConnectorRejected) as caught:
        connector.resolve(ticket.id, "cleared")
    connector.close()
    assert "again" in json.dumps([r.body.decode(errors="replace") for r in setup.server.requests])
    assert any("POST" in r.getMessage() for r in caplog.records), "requests are logged"
    text = "\n".join(r.getMessage() for r in caplog.records) + str(caught.value) + repr(caught.value)
    for secret in SECRETS:
        assert secret not in text
