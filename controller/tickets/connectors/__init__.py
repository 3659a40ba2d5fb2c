"""Ticket connectors: small HTTP clients that push Fleetward tickets to a PSA or a webhook.

All share :class:`~controller.tickets.connectors.base.TicketConnector` and the error tree in
:mod:`~controller.tickets.connectors.errors`; the outbox that calls them retries what is
retryable. Credentials come in already opened (plain ``str``) and are never logged.
"""

from controller.tickets.connectors.base import (
    ExternalTicket,
    PayloadInvalid,
    PollingConnector,
    RemoteTicket,
    TicketConnector,
    TicketPayload,
)
from controller.tickets.connectors.connectwise import ConnectWiseConnector
from controller.tickets.connectors.errors import (
    ConnectorAnswerInvalid,
    ConnectorError,
    ConnectorRejected,
    ConnectorSetupError,
    ConnectorThrottled,
    ConnectorUnavailable,
)
from controller.tickets.connectors.halopsa import HaloPsaConnector
from controller.tickets.connectors.webhook import WebhookConnector

__all__ = [
    "ConnectWiseConnector",
    "ConnectorAnswerInvalid",
    "ConnectorError",
    "ConnectorRejected",
    "ConnectorSetupError",
    "ConnectorThrottled",
    "ConnectorUnavailable",
    "ExternalTicket",
    "HaloPsaConnector",
    "PayloadInvalid",
    "PollingConnector",
    "RemoteTicket",
    "TicketConnector",
    "TicketPayload",
    "WebhookConnector",
]
