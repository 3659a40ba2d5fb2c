"""Escalation mail: a step with notify mails the addresses once, through the outbox, via a loopback SMTP server."""

from __future__ import annotations

import dataclasses
import logging
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from controller.secrets import KeyFolder, SealedSecrets, seal
from controller.store import (
    Store,
    create_enrollment_token,
    enroll_agent,
    get_service_request,
    list_service_requests,
    raise_alert,
)
from controller.store.tables import service_requests
from controller.store.ticket_sync import connector_health
from controller.tickets.applying import TicketWorker
from controller.tickets.connectors import ConnectorSetupError
from controller.tickets.delivering import OutboxDelivery
from controller.tickets.mailing import Mail, send_mail
from schemas.fleet import FleetSpec
from schemas.protocol import Facts
from schemas.ticketing import EmailSettings
from tests.support.resources import client, desired, resource
from tests.tickets.mailserver import FakeSmtpServer, loopback_certificate, server_context

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)
PASSWORD = "smtp-SECRET-5a1e"


@dataclass
class Rig:
    store: Store
    smtp: FakeSmtpServer
    worker: TicketWorker
    outbox: OutboxDelivery
    ticket: int

    def escalate(self, minutes: int) -> None:
        self.worker.run_pass(NOW + timedelta(minutes=minutes))

    def mails(self) -> list[Any]:
        return [d for d in get_service_request(self.store, self.ticket, "acme").deliveries if d.action == "email"]


def _rig(tmp_path: Any, database_url: str, smtp: FakeSmtpServer, email: dict[str, Any]) -> Iterator[Rig]:
    store = Store.open(database_url)
    keys = KeyFolder(tmp_path / "keys")
    keys.ensure()
    if "password" in email:
        email = {**email, "password": seal(email["password"], keys.keyring().sealing_key)}
    fleet = FleetSpec.model_validate({"tickets": {"email": email}})
    state = dataclasses.replace(desired([
        (None, client("acme")),
        ("acme", resource("AlertTicketRule", "disk", {
            "match": {"alertTypes": ["disk.low"]},
            "escalation": [{"afterMinutes": 30, "priority": "critical"},
                           {"afterMinutes": 60, "assignee": "lead", "notify": ["lead@msp.example",
                                                                                "oncall@msp.example"]}]}))]),
        fleet=fleet)
    token = create_enrollment_token(store, "acme", created_by="t", now=NOW)
    agent_id = enroll_agent(store, token, Facts(hostname="web-01", os="linux"), {}, NOW).agent_id
    worker = TicketWorker(store, lambda: state)
    worker.run_pass(NOW - timedelta(hours=1))
    raise_alert(store, client="acme", agent_id=agent_id, type="disk.low", severity="warning",
                key=f"agent:{agent_id}:disk:/", message="/ has 3 % free", now=NOW)
    worker.run_pass(NOW)
    (ticket,) = list_service_requests(store, "acme")
    outbox = OutboxDelivery(store, SealedSecrets(keys), lambda: state)
    try:
        yield Rig(store, smtp, worker, outbox, ticket.id)
    finally:
        outbox.close()
        store.close()


@pytest.fixture
def rig(tmp_path: Any, database_url: str) -> Iterator[Rig]:
    with FakeSmtpServer(username="fleetward", password=PASSWORD) as smtp:
        yield from _rig(tmp_path, database_url, smtp, {
            "host": "127.0.0.1", "port": smtp.port, "from": "fleetward@msp.example", "starttls": False,
            "username": "fleetward", "password": PASSWORD})


def test_an_escalation_step_with_notify_mails_its_addresses_once(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    rig.escalate(30)
    assert rig.mails() == [] and rig.outbox.run_pass(NOW + timedelta(minutes=30)).delivered == 0
    rig.escalate(60)
    assert rig.outbox.run_pass(NOW + timedelta(minutes=60)).delivered == 1
    assert rig.outbox.run_pass(NOW + timedelta(minutes=90)).delivered == 0

    (received,) = rig.smtp.messages
    assert received.login == "fleetward" and received.sender == "fleetward@msp.example"
    assert received.recipients == ("lead@msp.example", "oncall@msp.example")
    message = received.message
    assert message["Subject"].startswith(f"[Fleetward] #{rig.ticket} ") and "(acme)" in message["Subject"]
    assert message["Message-ID"].strip().startswith(f"<fw-{rig.ticket}-email-")
    text = message.get_payload(decode=True).decode()
    assert "Escalated: not acknowledged 60 minutes after it opened" in text and "Assignee: lead" in text
    (mail,) = rig.mails()
    assert (mail.state, mail.attempts, mail.connector) == ("delivered", 1, "(email)")
    assert PASSWORD not in caplog.text


def test_the_same_step_applied_again_after_a_crash_sends_no_second_mail(rig: Rig) -> None:
    rig.escalate(60)
    with rig.store.write() as session:  # as if the controller died before counting the step
        session.execute(update(service_requests).where(service_requests.c.id == rig.ticket)
                        .values(escalation_steps=1))
    rig.escalate(61)
    assert len(rig.mails()) == 1
    rig.outbox.run_pass(NOW + timedelta(minutes=61))
    assert len(rig.smtp.messages) == 1


def test_a_temporary_refusal_is_retried_later(rig: Rig) -> None:
    rig.smtp.script["MAIL"] = "451 4.3.0 mailbox busy, try later"
    rig.escalate(60)
    report = rig.outbox.run_pass(NOW + timedelta(minutes=60))
    assert (report.delivered, report.retrying) == (0, 1) and rig.smtp.messages == []
    (mail,) = rig.mails()
    assert mail.state == "pending" and "SMTP 451" in mail.last_error
    (health,) = connector_health(rig.store)
    assert (health.connector, health.pending, health.oldest_pending_at) == (
        "(email)", 1, NOW + timedelta(minutes=60))
    assert rig.outbox.run_pass(NOW + timedelta(minutes=70)).delivered == 1
    assert len(rig.smtp.messages) == 1


def test_a_refused_login_stops_with_the_fix_and_never_quotes_the_password(rig: Rig) -> None:
    rig.smtp.password = "rotated"
    rig.escalate(60)
    assert rig.outbox.run_pass(NOW + timedelta(minutes=60)).failed == 1
    (mail,) = rig.mails()
    assert mail.state == "failed" and "refused the login (SMTP 535)" in mail.last_error
    assert PASSWORD not in mail.last_error and rig.smtp.messages == []


def test_a_refused_recipient_stops_with_the_reason(rig: Rig) -> None:
    rig.smtp.script["RCPT"] = "550 5.1.1 no such user"
    rig.smtp.script["DATA"] = "554 5.5.1 no valid recipients"
    rig.escalate(60)
    rig.outbox.run_pass(NOW + timedelta(minutes=60))
    (mail,) = rig.mails()
    assert mail.state == "failed" and "SMTP" in mail.last_error


def test_an_unreachable_server_is_retried(rig: Rig) -> None:
    rig.smtp.stop()
    rig.escalate(60)
    report = rig.outbox.run_pass(NOW + timedelta(minutes=60))
    assert report.retrying == 1
    (mail,) = rig.mails()
    assert mail.state == "pending" and "ConnectionRefusedError" in mail.last_error


def test_starttls_required_but_not_offered_is_refused_before_any_login(tmp_path: Any, database_url: str) -> None:
    with FakeSmtpServer(username="fleetward", password=PASSWORD) as smtp:
        for rig in _rig(tmp_path, database_url, smtp, {
                "host": "127.0.0.1", "port": smtp.port, "from": "fleetward@msp.example",
                "username": "fleetward", "password": PASSWORD}):
            rig.escalate(60)
            assert rig.outbox.run_pass(NOW + timedelta(minutes=60)).failed == 1
            (mail,) = rig.mails()
            assert "does not offer STARTTLS" in mail.last_error and smtp.logins == []


def test_starttls_upgrades_before_the_login_and_the_mail_goes_out_encrypted(
        tmp_path: Any, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    cert, key = loopback_certificate(tmp_path)
    # The controller verifies against the system's trust store; OpenSSL reads SSL_CERT_FILE for it.
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    with FakeSmtpServer(username="fleetward", password=PASSWORD, tls=server_context(cert, key)) as smtp:
        for rig in _rig(tmp_path, database_url, smtp, {
                "host": "127.0.0.1", "port": smtp.port, "from": "fleetward@msp.example",
                "username": "fleetward", "password": PASSWORD}):
            rig.escalate(60)
            assert rig.outbox.run_pass(NOW + timedelta(minutes=60)).delivered == 1
            (received,) = smtp.messages
            assert received.tls and received.login == "fleetward"
            assert sorted(received.recipients) == ["lead@msp.example", "oncall@msp.example"]
            (mail,) = rig.mails()
            assert mail.state == "delivered"


def test_a_certificate_the_controller_cannot_verify_stops_before_the_login(
        tmp_path: Any, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    cert, key = loopback_certificate(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "no-such-bundle.pem"))
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path / "no-such-dir"))
    with FakeSmtpServer(username="fleetward", password=PASSWORD, tls=server_context(cert, key)) as smtp:
        for rig in _rig(tmp_path, database_url, smtp, {
                "host": "127.0.0.1", "port": smtp.port, "from": "fleetward@msp.example",
                "username": "fleetward", "password": PASSWORD}):
            rig.escalate(60)
            assert rig.outbox.run_pass(NOW + timedelta(minutes=60)).failed == 1
            (mail,) = rig.mails()
            assert "could not be verified" in mail.last_error
            assert smtp.logins == [] and smtp.messages == []


def test_a_login_without_tls_to_a_remote_server_is_refused_before_connecting() -> None:
    settings = EmailSettings.model_validate({"host": "smtp.msp.example", "port": 25, "from": "fw@msp.example",
                                             "starttls": False, "username": "fw",
                                             "password": "sealed:v1:" + "0" * 16 + ":" + "A" * 60})
    mail = Mail(("lead@msp.example",), "s", "b", "<k@fleetward.invalid>")
    real_connect = socket.create_connection
    attempts: list[object] = []

    def refuse(*args: Any, **kwargs: Any) -> Any:
        attempts.append(args)
        return real_connect(*args, **kwargs)

    socket.create_connection = refuse  # type: ignore[assignment]
    try:
        with pytest.raises(ConnectorSetupError) as caught:
            send_mail(settings, "pw", mail)
    finally:
        socket.create_connection = real_connect  # type: ignore[assignment]
    assert "starttls: true" in caught.value.hint and attempts == []


@pytest.mark.parametrize(("email", "message"), [
    pytest.param({"host": "smtp.msp.example", "from": "fw@msp.example", "username": "fw"},
                 "username and password go together", id="user-without-password"),
    pytest.param({"host": "smtp.msp.example", "from": "not-an-address"}, "should match pattern", id="bad-from"),
    pytest.param({"host": "smtp.msp.example\nBcc: x", "from": "fw@msp.example"}, "should match pattern",
                 id="header-injection-host"),
])
def test_bad_email_settings_are_refused_with_the_field(email: dict[str, Any], message: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as caught:
        FleetSpec.model_validate({"tickets": {"email": email}})
    assert message in str(caught.value)
