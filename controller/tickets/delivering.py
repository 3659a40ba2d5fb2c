"""Delivering the ticket outbox to PSA connectors: in order per ticket, retried until it lands.

Ticket changes queue their outbox rows in the same transaction as the change
(:mod:`controller.store.service_requests`), so a PSA outage never loses one. Each pass takes the
rows that are due, oldest first, and for each ticket only its earliest pending row (a note waits
for the ticket's creation, which gives the PSA's ticket id). A retryable failure (timeout, 5xx,
429, garbage) keeps the row pending with a later ``next_attempt_at`` (Retry-After when the PSA
gave one, else a doubling backoff); a refusal that retrying cannot fix (bad credentials, an
unknown board, a connector missing from fleet.yaml) marks it failed with the reason, which
``GET /api/service-requests/{id}`` shows. Creation is idempotent at the connector (the ticket's
id is the idempotency key), so a create whose answer was lost is not a second ticket.

Escalation mail travels the same way: rows of the pseudo-connector ``(email)`` (action
``email``) are sent by :mod:`controller.tickets.mailing` through ``spec.tickets.email``. Order is
kept per ticket *and* connector, so a mail does not wait behind a PSA that is down.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select, update

from controller.desired import DesiredState
from controller.repeating import every
from controller.secrets import SealedSecrets
from controller.store import Store
from controller.store.service_requests import EMAIL_OUTBOX
from controller.store.tables import agents, alerts, service_requests, ticket_outbox
from controller.tickets.connectors import (
    ConnectorError,
    ConnectWiseConnector,
    HaloPsaConnector,
    TicketConnector,
    TicketPayload,
    WebhookConnector,
)
from controller.tickets.mailing import escalation_mail, send_mail
from schemas.ticketing import (
    ConnectorSettings,
    ConnectWiseConnectorSettings,
    HaloPsaConnectorSettings,
    WebhookConnectorSettings,
)

log = logging.getLogger(__name__)

MAX_PER_PASS = 200
FIRST_BACKOFF = 30.0
MAX_BACKOFF = 6 * 3600.0


@dataclass
class DeliveryReport:
    delivered: int = 0
    retrying: int = 0
    failed: int = 0


class UnknownConnector(Exception):
    pass


def build_connector(settings: ConnectorSettings, sealed: SealedSecrets,
                    transport: httpx.BaseTransport | None = None) -> TicketConnector:
    """A connector from its fleet.yaml settings, credentials opened in memory only."""
    def plain(value: str) -> str:
        return sealed.open(value).reveal()

    if isinstance(settings, WebhookConnectorSettings):
        return WebhookConnector(settings.url, plain(settings.secret), transport=transport)
    if isinstance(settings, ConnectWiseConnectorSettings):
        return ConnectWiseConnector(settings.base_url, company_id=settings.company_id,
                                    public_key=plain(settings.public_key), private_key=plain(settings.private_key),
                                    client_id=plain(settings.client_id), default_board=settings.board,
                                    default_company=settings.company, resolved_status=settings.resolved_status,
                                    closed_statuses=settings.closed_statuses, transport=transport)
    if isinstance(settings, HaloPsaConnectorSettings):
        return HaloPsaConnector(settings.base_url, auth_url=settings.auth_url, client_id=plain(settings.client_id),
                                client_secret=plain(settings.client_secret), tickettype_id=settings.tickettype_id,
                                default_client_id=settings.halo_client_id,
                                resolved_status_id=settings.resolved_status_id,
                                closed_status_ids=settings.closed_status_ids, transport=transport)
    raise UnknownConnector(f"connector type {type(settings).__name__} is not supported")


class ConnectorCache:
    """One open connector per name, rebuilt (the old one closed) when its fleet.yaml settings change."""

    def __init__(self, sealed: SealedSecrets, transport: httpx.BaseTransport | None = None) -> None:
        self.sealed = sealed
        self.transport = transport
        self._open: dict[str, tuple[ConnectorSettings, TicketConnector]] = {}

    def get(self, name: str, settings: ConnectorSettings) -> TicketConnector:
        cached = self._open.get(name)
        if cached is not None and cached[0] == settings:
            return cached[1]
        if cached is not None:
            cached[1].close()
        connector = build_connector(settings, self.sealed, self.transport)
        self._open[name] = (settings, connector)
        return connector

    def close(self) -> None:
        for _settings, connector in self._open.values():
            connector.close()
        self._open.clear()


class OutboxDelivery:
    """Delivers the ticket outbox every ``interval`` seconds beside the reconcile loop."""

    def __init__(self, store: Store, sealed: SealedSecrets, desired: Callable[[], DesiredState | None], *,
                 interval: float = 2.0, transport: httpx.BaseTransport | None = None) -> None:
        self.store = store
        self.sealed = sealed
        self.desired = desired
        self.interval = interval
        self._connectors = ConnectorCache(sealed, transport)
        self._lock = threading.Lock()

    async def run(self, stop: asyncio.Event) -> None:
        await every(self.interval, self.run_pass, stop, what="ticket delivery pass", log=log)
        self.close()

    def close(self) -> None:
        self._connectors.close()

    def run_pass(self, now: datetime | None = None) -> DeliveryReport:
        with self._lock:
            now = now or datetime.now(UTC)
            report = DeliveryReport()
            state = self.desired()
            with self.store.read() as session:
                rows = session.execute(select(ticket_outbox).where(ticket_outbox.c.state == "pending")
                                       .order_by(ticket_outbox.c.id).limit(MAX_PER_PASS)).mappings().all()
            blocked: set[tuple[int, str]] = set()
            for row in rows:
                lane = (row["service_request_id"], row["connector"])
                if lane in blocked:
                    continue
                blocked.add(lane)  # later rows of this ticket to this connector wait for this one
                if row["next_attempt_at"] > now:
                    continue
                self._deliver(dict(row), state, now, report)
            return report

    def _connector(self, name: str, state: DesiredState | None) -> TicketConnector:
        settings = state.fleet.tickets.connectors.get(name) if state is not None else None
        if settings is None:
            raise UnknownConnector(f"no connector {name!r} in fleet.yaml spec.tickets.connectors")
        return self._connectors.get(name, settings)

    def _deliver(self, row: dict[str, Any], state: DesiredState | None, now: datetime,
                 report: DeliveryReport) -> None:
        ticket = self._ticket(row["service_request_id"])
        try:
            if row["action"] == "email":
                self._mail(row, ticket, state)
            else:
                self._send(row, ticket, state)
        except ConnectorError as error:
            if error.retryable:
                delay = error.delay or min(MAX_BACKOFF, FIRST_BACKOFF * 2 ** row["attempts"])
                self._update(row["id"], attempts=row["attempts"] + 1, last_error=str(error)[:2000],
                             next_attempt_at=now + timedelta(seconds=delay))
                report.retrying += 1
            else:
                self._update(row["id"], attempts=row["attempts"] + 1, last_error=str(error)[:2000], state="failed")
                report.failed += 1
            return
        except UnknownConnector as error:
            self._update(row["id"], attempts=row["attempts"] + 1, last_error=str(error), state="failed")
            report.failed += 1
            return
        self._update(row["id"], attempts=row["attempts"] + 1, last_error="", state="delivered", delivered_at=now)
        report.delivered += 1

    def _send(self, row: dict[str, Any], ticket: dict[str, Any], state: DesiredState | None) -> None:
        connector = self._connector(row["connector"], state)
        if row["action"] == "create":
            created = connector.create(_payload(ticket))
            with self.store.write() as session:
                session.execute(update(service_requests).where(service_requests.c.id == ticket["id"])
                                .values(external_id=created.id, external_url=created.url))
        elif ticket["external_id"] is None:
            raise UnknownConnector("the ticket was never created at the connector")
        elif row["action"] == "resolve":
            connector.resolve(ticket["external_id"], row["text"])
        else:
            connector.add_note(ticket["external_id"], row["text"])

    def _mail(self, row: dict[str, Any], ticket: dict[str, Any], state: DesiredState | None) -> None:
        settings = state.fleet.tickets.email if state is not None else None
        if row["connector"] != EMAIL_OUTBOX or settings is None:
            raise UnknownConnector("no spec.tickets.email in fleet.yaml to send escalation mail through")
        password = self.sealed.open(settings.password).reveal() if settings.password else None
        send_mail(settings, password, escalation_mail(row, ticket))

    def _ticket(self, ticket_id: int) -> dict[str, Any]:
        with self.store.read() as session:
            ticket = dict(session.execute(select(service_requests).where(service_requests.c.id == ticket_id))
                          .mappings().one())
            alert = None
            if ticket["source_alert_id"] is not None:
                alert = session.execute(select(alerts.c.type, alerts.c.severity)
                                        .where(alerts.c.id == ticket["source_alert_id"])).first()
            hostname = None
            if ticket["agent_id"] is not None:
                hostname = session.execute(select(agents.c.hostname)
                                           .where(agents.c.id == ticket["agent_id"])).scalar()
        ticket["alert_type"], ticket["severity"] = (alert.type, alert.severity) if alert else ("manual", "info")
        ticket["hostname"] = hostname or ""
        return ticket

    def _update(self, row_id: int, **values: Any) -> None:
        with self.store.write() as session:
            session.execute(update(ticket_outbox).where(ticket_outbox.c.id == row_id).values(values))


def _payload(ticket: dict[str, Any]) -> TicketPayload:
    return TicketPayload(idempotency_key=f"fleetward-{ticket['id']}", title=ticket["title"], body=ticket["body"],
                         priority=ticket["priority"], client=ticket["client"], hostname=ticket["hostname"],
                         alert_type=ticket["alert_type"], severity=ticket["severity"], board=ticket["board"],
                         assignee=ticket["assignee"])
