"""Where tickets go besides the built-in store: the PSA connectors and the mail server a Fleet configures.

``spec.tickets.connectors`` in ``fleet.yaml`` names each connector; an ``AlertTicketRule``'s
``routing.connector`` picks one by name. Credentials are sealed values (``fleetward seal``).
ConnectWise and HaloPSA are also polled (``pollMinutes``) so a ticket resolved or closed in the
PSA resolves here; which PSA statuses count as done is configurable, with the vendors' defaults.
``spec.tickets.email`` is the SMTP server escalation steps with ``notify`` send mail through.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from schemas.resources import DnsLabel, SpecModel
from schemas.secrets import SealedValue

Url = Annotated[str, Field(pattern=r"^https?://", max_length=500)]
DEFAULT_POLL_MINUTES = 5
PollMinutes = Annotated[int, Field(
    ge=0, le=1440,
    description="Every this many minutes the open tickets sent here are read back from the PSA, and those "
                "resolved or closed there are resolved in Fleetward; 0 turns polling off.")]
StatusName = Annotated[str, Field(min_length=1, max_length=100)]


class WebhookConnectorSettings(SpecModel):
    """A generic webhook: HMAC-SHA256-signed JSON for ticket.created, ticket.note, ticket.resolved."""

    type: Literal["webhook"]
    url: Url
    secret: SealedValue


class ConnectWiseConnectorSettings(SpecModel):
    """ConnectWise Manage REST API 3.0 (``https://<site>/v4_6_release/apis/3.0``)."""

    type: Literal["connectwise"]
    base_url: Url
    company_id: str = Field(min_length=1, max_length=100, description="The ConnectWise login company id.")
    public_key: SealedValue
    private_key: SealedValue
    client_id: SealedValue
    board: str = Field(min_length=1, max_length=100, description="Service board for tickets without routing.board.")
    company: str | None = Field(default=None, max_length=100,
                                description="Company identifier for tickets whose Client sets no PSA company id. With "
                                            "neither, the ticket stays in the outbox with a setup error.")
    resolved_status: StatusName = Field(
        default="Resolved", description="The status Fleetward sets to resolve a ticket; polling reads it as resolved.")
    closed_statuses: list[StatusName] = Field(
        default_factory=list, max_length=50,
        description="Further status names that count as done when polling. A status with ConnectWise's "
                    "closedFlag (its 'Closed' box on the board) always counts.")
    poll_minutes: PollMinutes = DEFAULT_POLL_MINUTES


class HaloPsaConnectorSettings(SpecModel):
    """HaloPSA API (OAuth2 client credentials)."""

    type: Literal["halopsa"]
    base_url: Url
    auth_url: Url
    client_id: SealedValue
    client_secret: SealedValue
    tickettype_id: int = Field(ge=1, le=1_000_000)
    halo_client_id: int | None = Field(default=None, ge=1, le=1_000_000_000,
                                       description="Halo client id for tickets (else the connector's default).")
    resolved_status_id: int = Field(
        default=9, ge=1, le=1_000_000,
        description="The status id Fleetward sets to resolve a ticket (Halo's default 9 is 'Closed'); polling "
                    "reads it as resolved.")
    closed_status_ids: list[Annotated[int, Field(ge=1, le=1_000_000)]] = Field(
        default_factory=list, max_length=50,
        description="Further status ids that count as done when polling (e.g. a custom 'Resolved' status). A "
                    "ticket Halo flags hasbeenclosed always counts.")
    poll_minutes: PollMinutes = DEFAULT_POLL_MINUTES


ConnectorSettings = Annotated[
    WebhookConnectorSettings | ConnectWiseConnectorSettings | HaloPsaConnectorSettings, Field(discriminator="type")]


class EmailSettings(SpecModel):
    """The SMTP server escalation mail goes through (``notify`` on an escalation step)."""

    host: str = Field(min_length=1, max_length=253, pattern=r"^[A-Za-z0-9.:\[\]-]+$",
                      description="The SMTP server's host name or address.")
    port: int = Field(default=587, ge=1, le=65_535, description="587 for submission with STARTTLS (the default).")
    sender: str = Field(alias="from", max_length=254, pattern=r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$",
                        description="The From address, e.g. fleetward@msp.example.")
    starttls: bool = Field(default=True, description="Upgrade the connection with STARTTLS (the certificate is "
                                                      "verified). Off only for a relay on the same machine.")
    username: str | None = Field(default=None, min_length=1, max_length=253)
    password: SealedValue | None = None

    @model_validator(mode="after")
    def _password_needs_a_user(self) -> EmailSettings:
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together: set both (password sealed with "
                             "'fleetward seal') or neither for a relay that needs no login")
        return self


class TicketSettings(SpecModel):
    connectors: dict[DnsLabel, ConnectorSettings] = Field(default_factory=dict, max_length=20)
    email: EmailSettings | None = Field(
        default=None, description="SMTP for escalation e-mail; needed when an AlertTicketRule's escalation has notify.")
