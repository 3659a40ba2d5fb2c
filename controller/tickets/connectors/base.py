"""What every ticket connector accepts and promises: one payload type, one small Protocol.

The outbox hands a connector a :class:`TicketPayload` and gets back an :class:`ExternalTicket`;
later messages for the same ticket name it by ``ExternalTicket.id``. Connectors are plain HTTP
clients: they do no retries of their own (the outbox retries, reading ``ConnectorError.retryable``
and ``.delay``), but every ``create`` is idempotent on ``idempotency_key``, so a retry after a
lost response finds the ticket the first attempt made instead of opening a second one.

Inputs are capped here, once, so no connector sends a megabyte of alert text to a PSA, and the
idempotency key is restricted to characters every PSA can store and search for verbatim.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

Priority = Literal["low", "medium", "high", "critical"]
TicketState = Literal["open", "resolved", "closed"]

PRIORITIES: tuple[Priority, ...] = ("low", "medium", "high", "critical")
MAX_KEY = 100
"""ConnectWise's externalXRef holds 100 characters; the key must fit there whole."""
MAX_TITLE = 500
MAX_BODY = 64 * 1024
MAX_NOTE = 64 * 1024
MAX_FIELD = 200
_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]*")


class PayloadInvalid(ValueError):
    """A payload a connector must not send; the message names the field and the limit."""


@dataclass(frozen=True)
class TicketPayload:
    """One Fleetward ticket as a PSA should see it.

    ``idempotency_key`` is stable per Fleetward ticket (the outbox uses the ticket's id), at most
    100 characters of ``A-Z a-z 0-9 . _ : -``. ``company_id`` is the PSA's identifier of the
    client's company (ConnectWise company identifier, Halo client id); ``board`` the board (CW)
    or team/queue (Halo). ``None`` leaves the choice to the connector's defaults.
    """

    idempotency_key: str
    title: str
    body: str
    priority: Priority
    client: str
    hostname: str
    alert_type: str
    severity: str
    board: str | None = None
    assignee: str | None = None
    company_id: str | None = None

    def __post_init__(self) -> None:
        if len(self.idempotency_key) > MAX_KEY or not _KEY.fullmatch(self.idempotency_key):
            raise PayloadInvalid(f"idempotency_key must be 1-{MAX_KEY} characters of A-Z a-z 0-9 . _ : - "
                                 "(use the Fleetward ticket id)")
        if self.priority not in PRIORITIES:
            raise PayloadInvalid(f"priority {self.priority!r} is not one of {', '.join(PRIORITIES)}")
        if not self.title.strip() or len(self.title) > MAX_TITLE:
            raise PayloadInvalid(f"title must be 1-{MAX_TITLE} characters")
        if len(self.body) > MAX_BODY:
            raise PayloadInvalid(f"body is longer than {MAX_BODY} characters; shorten the rule's body template")
        for name in ("client", "hostname", "alert_type", "severity", "board", "assignee", "company_id"):
            value = getattr(self, name)
            if value is not None and len(value) > MAX_FIELD:
                raise PayloadInvalid(f"{name} is longer than {MAX_FIELD} characters")


@dataclass(frozen=True)
class ExternalTicket:
    """A ticket in the PSA: its id there (as text) and, when the PSA has one, a link for people."""

    id: str
    url: str | None = None


@dataclass(frozen=True)
class RemoteTicket:
    """A ticket as read back from the PSA: our state for it, the PSA's own status, who closed it there."""

    id: str
    state: TicketState
    status: str
    closed_by: str | None = None


def check_note(text: str) -> str:
    if len(text) > MAX_NOTE:
        raise PayloadInvalid(f"note is longer than {MAX_NOTE} characters")
    return text


@runtime_checkable
class TicketConnector(Protocol):
    """A PSA (or webhook receiver) tickets are pushed to. Every method may raise ``ConnectorError``."""

    name: str

    def create(self, payload: TicketPayload) -> ExternalTicket:
        """Open the ticket, or return the one an earlier call with the same idempotency key opened."""
        ...

    def add_note(self, external_id: str, text: str) -> None:
        """Append an internal note (a repeated alert, an escalation) to the ticket."""
        ...

    def resolve(self, external_id: str, note: str) -> None:
        """Add ``note`` and move the ticket to the connector's resolved status. Resolving twice is harmless."""
        ...

    def fetch_state(self, external_id: str) -> TicketState | None:
        """The ticket's state in the PSA, or None when the connector cannot ask (the generic webhook)."""
        ...

    def close(self) -> None:
        """Release the HTTP connections."""
        ...


@runtime_checkable
class PollingConnector(Protocol):
    """A connector whose tickets can be read back in batches (ConnectWise, HaloPSA; not the webhook)."""

    name: str
    max_batch: int
    """The most ids one ``fetch_states`` call takes."""

    def fetch_states(self, external_ids: Sequence[str]) -> dict[str, RemoteTicket]:
        """The PSA's tickets among ``external_ids``, by id; one the PSA no longer has is left out."""
        ...
