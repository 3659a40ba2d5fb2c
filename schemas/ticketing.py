"""Where tickets go besides the built-in store: the PSA connectors a Fleet configures.

``spec.tickets.connectors`` in ``fleet.yaml`` names each connector; an ``AlertTicketRule``'s
``routing.connector`` picks one by name. Credentials are sealed values (``fleetward seal``).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from schemas.resources import DnsLabel, SpecModel
from schemas.secrets import SealedValue

Url = Annotated[str, Field(pattern=r"^https?://", max_length=500)]


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
                                description="Company identifier for tickets (default: the Fleetward client name).")


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


ConnectorSettings = Annotated[
    WebhookConnectorSettings | ConnectWiseConnectorSettings | HaloPsaConnectorSettings, Field(discriminator="type")]


class TicketSettings(SpecModel):
    connectors: dict[DnsLabel, ConnectorSettings] = Field(default_factory=dict, max_length=20)
