"""``Client``: a tenant of the MSP. Lives at ``clients/<name>/``; its name is the folder's."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from schemas.monitoring import MonitorSettings
from schemas.resources import Resource, SpecModel, register_kind
from schemas.timezones import TimeZoneName
from schemas.windows import WindowChoice


class Contact(SpecModel):
    name: str = Field(min_length=1, max_length=200)
    email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+$", max_length=254)
    phone: str | None = Field(default=None, max_length=50)
    role: str | None = Field(default=None, max_length=100)


class TicketDefaults(SpecModel):
    board: str | None = Field(default=None, max_length=200)
    priority: Literal["low", "medium", "high", "critical"] = "medium"
    assignee: str | None = Field(default=None, max_length=200)


DEFAULT_SCAN_PORTS = (22, 80, 443, 445, 3389, 5900, 8080, 9100)
MAX_SCAN_ADDRESSES = 65_536


def _allowed_cidr(value: str) -> str:
    try:
        network = ipaddress.ip_network(value, strict=True)
    except ValueError as error:
        raise ValueError(f"{value!r} is not a network in CIDR form such as 192.168.10.0/24 ({error})") from None
    if network.num_addresses > MAX_SCAN_ADDRESSES:
        raise ValueError(f"{value} has {network.num_addresses} addresses; scan at most /16 "
                         f"({MAX_SCAN_ADDRESSES}) per entry")
    return str(network)


class ActiveScan(SpecModel):
    """Ranges the client's agents may scan. Nothing is scanned unless it is listed here."""

    cidrs: list[Annotated[str, AfterValidator(_allowed_cidr)]] = Field(min_length=1, max_length=64)
    ports: list[Annotated[int, Field(ge=1, le=65535)]] = Field(
        default_factory=lambda: list(DEFAULT_SCAN_PORTS), max_length=64)
    rate_per_second: int = Field(default=20, ge=1, le=1000, description="Probes per second, per agent.")


class NetworkDiscovery(SpecModel):
    active_scan: ActiveScan | None = None


class ClientSpec(SpecModel):
    display_name: str = Field(min_length=1, max_length=200)
    timezone: TimeZoneName = "UTC"
    contacts: list[Contact] = Field(default_factory=list)
    tickets: TicketDefaults = Field(default_factory=TicketDefaults)
    network_discovery: NetworkDiscovery = Field(
        default_factory=NetworkDiscovery,
        description="Passive discovery (neighbour tables) always runs; active scans only of these ranges.")
    monitors: MonitorSettings | None = Field(
        default=None, description="Overrides the Fleet's defaults.monitors, field by field.")
    deployment_window: WindowChoice | None = Field(
        default=None, description="Default maintenance window of deployments on this client's devices, inline "
                                  "or the name of a MaintenanceWindow.")


@register_kind
class Client(Resource):
    kind: Literal["Client"]
    spec: ClientSpec
    placement = "client"
