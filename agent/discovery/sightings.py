"""What one source saw of one device, before the sources are merged into ``NetworkNeighbour`` entries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from agent.discovery.addresses import IpAddress

Source = Literal["neighbour", "gateway", "scan"]


@dataclass(frozen=True)
class Sighting:
    ip: IpAddress
    mac: str | None = None
    interface: str = ""
    source: Source = "neighbour"
    open_ports: frozenset[int] = field(default_factory=frozenset)
