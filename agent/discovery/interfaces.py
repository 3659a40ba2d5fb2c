"""The agent's own interfaces: which local network an address is on, and the agent's own MACs.

Scan hits carry no interface or MAC of their own; an address inside one of the agent's own networks is
attributed to that interface, and one of the agent's own addresses gets that interface's MAC (the
neighbour table never lists the agent itself).
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import psutil  # type: ignore[import-untyped, unused-ignore]  # no stubs installed

from agent.discovery.addresses import IpAddress, normalise_mac

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OwnAddress:
    interface: str
    network: ipaddress.IPv4Interface | ipaddress.IPv6Interface
    mac: str | None = None


InterfaceReader = Callable[[], Sequence[OwnAddress]]


def read_own_addresses() -> list[OwnAddress]:
    """Every address of every local interface, from psutil; [] (logged at debug) if the OS will not say."""
    try:
        table = psutil.net_if_addrs()
    except (OSError, RuntimeError) as error:
        log.debug("discovery: cannot list the local interfaces: %s", error)
        return []
    found = []
    for name, addresses in sorted(table.items()):
        mac = next((normalise_mac(a.address) for a in addresses if a.family == psutil.AF_LINK), None)
        for address in addresses:
            if address.family not in (socket.AF_INET, socket.AF_INET6) or not address.netmask:
                continue
            try:
                netmask = address.netmask
                if address.family == socket.AF_INET6:  # psutil gives ffff:ffff:...; ipaddress wants a length
                    netmask = str(bin(int(ipaddress.IPv6Address(netmask))).count("1"))
                network = ipaddress.ip_interface(f"{address.address.split('%', 1)[0]}/{netmask}")
            except ValueError:
                continue
            found.append(OwnAddress(interface=name[:200], network=network, mac=mac))
    return found


def interface_for(address: IpAddress, own: Sequence[OwnAddress]) -> str:
    """The interface whose network contains ``address`` (the most specific one); '' if none."""
    matches = [entry for entry in own if entry.network.version == address.version and address in entry.network.network]
    if not matches:
        return ""
    return max(matches, key=lambda entry: (entry.network.network.prefixlen, entry.interface)).interface


def own_mac(address: IpAddress, own: Sequence[OwnAddress]) -> str | None:
    return next((entry.mac for entry in own if entry.network.ip == address and entry.mac), None)
