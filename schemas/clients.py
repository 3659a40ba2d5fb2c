"""``Client``: a tenant of the MSP. Lives at ``clients/<name>/``; its name is the folder's."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas.resources import Resource, SpecModel, register_kind
from schemas.timezones import TimeZoneName


class Contact(SpecModel):
    name: str = Field(min_length=1, max_length=200)
    email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+$", max_length=254)
    phone: str | None = Field(default=None, max_length=50)
    role: str | None = Field(default=None, max_length=100)


class TicketDefaults(SpecModel):
    board: str | None = Field(default=None, max_length=200)
    priority: Literal["low", "medium", "high", "critical"] = "medium"
    assignee: str | None = Field(default=None, max_length=200)


class ClientSpec(SpecModel):
    display_name: str = Field(min_length=1, max_length=200)
    timezone: TimeZoneName = "UTC"
    contacts: list[Contact] = Field(default_factory=list)
    tickets: TicketDefaults = Field(default_factory=TicketDefaults)


@register_kind
class Client(Resource):
    kind: Literal["Client"]
    spec: ClientSpec
    placement = "client"
