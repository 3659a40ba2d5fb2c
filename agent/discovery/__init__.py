"""The ``network`` inventory section: devices around the agent.

Passive always: the OS neighbour tables (ARP/NDP) and the default gateways, which cost no traffic.
Active only for ranges the controller explicitly allows (a Client's ``networkDiscovery.activeScan``),
re-checked here, rate limited and capped (:mod:`agent.discovery.scanning`). The modules, in the order
data flows: ``reading`` (files and commands) → ``tables``/``routes`` (parsers) and ``ranges`` →
``pacing`` → ``probing`` → ``scanning`` → ``naming`` → ``merging``; ``collecting`` drives them.
"""

from __future__ import annotations

from dataclasses import replace

from agent.discovery.collecting import default_environment, discover
from schemas.inventory import DiscoverySettings, NetworkNeighbour


def collect_network(settings: DiscoverySettings, *, reverse_dns: bool = True) -> list[NetworkNeighbour]:
    """Devices seen on the agent's networks: passive always, active scans only of allowed ranges.

    Sorted and deduplicated by (ip, mac), at most 4096 entries; never raises. Without
    ``reverse_dns`` no name is looked up, so passive discovery sends no packet at all.
    """
    environment = default_environment()
    if not reverse_dns:
        environment = replace(environment, resolver=_no_name)
    return discover(settings, environment)


def _no_name(_address: str) -> str:
    return ""
