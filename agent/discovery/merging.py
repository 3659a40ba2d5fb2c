"""From sightings to the ``network`` section: one entry per (ip, mac), named, sorted, capped.

The section is hashed to tell whether anything changed, so identical networks must give identical
lists: entries are sorted by address (IPv4 first, numerically), then MAC, and every list inside is
sorted. Sources merge as follows: a scan hit or a gateway without a MAC takes the MAC the neighbour table
has for that address (unless the table has several), or the agent's own MAC for its own address; then
sightings with the same (ip, mac) become one entry whose source is the most telling one (gateway, then
scan, then neighbour) and whose open ports are the union. The list stops at :data:`MAX_ENTRIES`, the
protocol's cap.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from pydantic import ValidationError

from agent.discovery.addresses import IpAddress, sort_key
from agent.discovery.interfaces import OwnAddress, interface_for, own_mac
from agent.discovery.sightings import Sighting, Source
from schemas.inventory import NetworkNeighbour

log = logging.getLogger(__name__)

MAX_ENTRIES = 4096
MAX_PORTS = 64
_PRECEDENCE: dict[Source, int] = {"gateway": 0, "scan": 1, "neighbour": 2}


class Merged(NamedTuple):
    ip: IpAddress
    mac: str | None
    source: Source
    interface: str
    open_ports: list[int]


@dataclass
class _Entry:
    ip: IpAddress
    mac: str | None
    sources: set[Source] = field(default_factory=set)
    interfaces: set[str] = field(default_factory=set)
    open_ports: set[int] = field(default_factory=set)


def merge(sightings: Sequence[Sighting], own: Sequence[OwnAddress] = ()) -> list[Merged]:
    """One :class:`Merged` per distinct (ip, mac), in the section's order, uncapped."""
    macs_by_ip: dict[IpAddress, set[str]] = defaultdict(set)
    for sighting in sightings:
        if sighting.mac:
            macs_by_ip[sighting.ip].add(sighting.mac)
    entries: dict[tuple[IpAddress, str | None], _Entry] = {}
    for sighting in sightings:
        mac = sighting.mac
        if mac is None:
            known = macs_by_ip.get(sighting.ip, set())
            mac = next(iter(known)) if len(known) == 1 else own_mac(sighting.ip, own)
        entry = entries.setdefault((sighting.ip, mac), _Entry(ip=sighting.ip, mac=mac))
        entry.sources.add(sighting.source)
        entry.open_ports.update(sighting.open_ports)
        if sighting.interface:
            entry.interfaces.add(sighting.interface)
    merged = []
    for key in sorted(entries, key=lambda key: (sort_key(key[0]), key[1] or "")):
        entry = entries[key]
        source = min(entry.sources, key=_PRECEDENCE.__getitem__)
        interface = min(entry.interfaces) if entry.interfaces else interface_for(entry.ip, own)
        merged.append(Merged(entry.ip, entry.mac, source, interface, sorted(entry.open_ports)[:MAX_PORTS]))
    return merged


def build_section(sightings: Sequence[Sighting], own: Sequence[OwnAddress], names: Mapping[IpAddress, str],
                  vendor_of: Callable[[str], str]) -> list[NetworkNeighbour]:
    """The ``network`` section: merged, named, at most :data:`MAX_ENTRIES` entries."""
    section: list[NetworkNeighbour] = []
    merged = merge(sightings, own)
    if len(merged) > MAX_ENTRIES:
        log.warning("discovery: %d devices found; reporting the first %d by address", len(merged), MAX_ENTRIES)
    for ip, mac, source, interface, open_ports in merged[:MAX_ENTRIES]:
        try:
            section.append(NetworkNeighbour(ip=str(ip), mac=mac, hostname=names.get(ip, ""),
                                            vendor=vendor_of(mac) if mac else "", interface=interface,
                                            source=source, open_ports=open_ports))
        except ValidationError as error:  # a value the OS printed that the protocol cannot carry
            log.debug("discovery: dropping %s: %s", ip, error)
    return section
