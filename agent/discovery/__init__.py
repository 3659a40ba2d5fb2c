"""The ``network`` inventory section: devices around the agent (being written)."""

from __future__ import annotations

from schemas.inventory import DiscoverySettings, NetworkNeighbour


def collect_network(settings: DiscoverySettings) -> list[NetworkNeighbour]:
    """Devices seen on the agent's networks: passive always, active scans only of allowed ranges."""
    return []
