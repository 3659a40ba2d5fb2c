"""Parsers for the default gateways: Linux ``/proc`` route tables or ``ip -j route``, Windows, macOS.

The gateway is the one device every agent can name without any traffic, and the one an MSP most wants to
identify (the client's router or firewall), so it is reported with source ``gateway`` even when the
neighbour table has no entry for it. Pure functions over recorded text, like :mod:`agent.discovery.tables`.
"""

from __future__ import annotations

import ipaddress
import struct

from agent.discovery.addresses import normalise_ip
from agent.discovery.decoding import json_objects, text_field
from agent.discovery.sightings import Sighting

_RTF_UP = 0x1
_RTF_GATEWAY = 0x2


def parse_proc_route(text: str) -> list[Sighting]:
    """``/proc/net/route``: hex fields in host byte order; the default route has destination and mask 0."""
    found = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 8:
            continue
        try:
            destination, gateway, flags, mask = (int(fields[i], 16) for i in (1, 2, 3, 7))
        except ValueError:
            continue
        if destination or mask or flags & (_RTF_UP | _RTF_GATEWAY) != _RTF_UP | _RTF_GATEWAY:
            continue
        ip = normalise_ip(str(ipaddress.IPv4Address(struct.pack("=I", gateway & 0xFFFFFFFF))))
        if ip is not None:
            found.append(Sighting(ip=ip, interface=fields[0], source="gateway"))
    return found


def parse_proc_ipv6_route(text: str) -> list[Sighting]:
    """``/proc/net/ipv6_route``: ``dest plen src plen nexthop metric refcnt use flags iface``, all hex."""
    found = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 10:
            continue
        try:
            destination, prefix, nexthop, flags = (int(fields[i], 16) for i in (0, 1, 4, 8))
        except ValueError:
            continue
        if destination or prefix or not nexthop or flags & (_RTF_UP | _RTF_GATEWAY) != _RTF_UP | _RTF_GATEWAY:
            continue
        ip = normalise_ip(str(ipaddress.IPv6Address(nexthop)))
        if ip is not None:
            found.append(Sighting(ip=ip, interface=fields[9], source="gateway"))
    return found


def parse_ip_route_json(text: str) -> list[Sighting]:
    """``ip -j route show default`` (and ``-6``): ``gateway``/``dev``, or a ``nexthops`` list for multipath."""
    found = []
    for entry in json_objects(text):
        if entry.get("dst") not in ("default", "0.0.0.0/0", "::/0"):
            continue
        nexthops = entry.get("nexthops")
        hops: list[object] = nexthops if isinstance(nexthops, list) else [entry]
        for hop in hops:
            if not isinstance(hop, dict):
                continue
            ip = normalise_ip(text_field(hop.get("gateway")))
            if ip is not None:
                interface = text_field(hop.get("dev") or entry.get("dev"))
                found.append(Sighting(ip=ip, interface=interface, source="gateway"))
    return found


def parse_windows_routes(text: str) -> list[Sighting]:
    """``Get-NetRoute -DestinationPrefix 0.0.0.0/0,::/0 | ConvertTo-Json``; an on-link ``0.0.0.0`` hop is no gateway."""
    found = []
    for entry in json_objects(text):
        if text_field(entry.get("DestinationPrefix")) not in ("0.0.0.0/0", "::/0"):
            continue
        ip = normalise_ip(text_field(entry.get("NextHop")))
        if ip is not None:
            found.append(Sighting(ip=ip, interface=text_field(entry.get("InterfaceAlias")), source="gateway"))
    return found


def parse_macos_netstat(text: str) -> list[Sighting]:
    """``netstat -rn``: ``default`` rows of the Internet and Internet6 tables; ``link#N`` is no gateway.

    The interface column moves (older releases print ``Refs Use`` before ``Netif``), so it is taken from
    each table's own header line.
    """
    found = []
    netif = 3
    for line in text.splitlines():
        fields = line.split()
        if not fields:
            continue
        if fields[0] == "Destination":
            netif = fields.index("Netif") if "Netif" in fields else 3
            continue
        if fields[0] != "default" or len(fields) < 2:
            continue
        ip = normalise_ip(fields[1])
        if ip is None:
            continue
        scope = fields[1].split("%", 1)[1] if "%" in fields[1] else ""
        interface = fields[netif] if len(fields) > netif else scope
        found.append(Sighting(ip=ip, interface=interface, source="gateway"))
    return found

