"""The ranges an agent may scan, re-checked on the agent itself (defense in depth).

The controller only sends ranges a Client lists under ``networkDiscovery.activeScan`` and validates them
(CIDR form, at most a /16 each). The agent does not trust that: it parses the list again, drops what is
not a strict CIDR or is larger than :data:`MAX_SCAN_ADDRESSES`, and every probe is checked against the
result (:meth:`AllowedRanges.check`), so a bug anywhere upstream cannot turn into probing someone else's
network. Targets skip network and broadcast addresses (``ipaddress``'s ``hosts()``, which keeps both
addresses of a /31 and the one of a /32), multicast and unspecified addresses, and stop at
:data:`MAX_SCAN_ADDRESSES` in total per run.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from agent.discovery.addresses import IpAddress
from agent.discovery.errors import OutsideAllowedRange

log = logging.getLogger(__name__)

MAX_SCAN_ADDRESSES = 65_536
"""Addresses probed per run at most, over all ranges (and the largest one range may be)."""

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class AllowedRanges:
    networks: tuple[Network, ...] = ()

    @classmethod
    def parse(cls, cidrs: Iterable[str]) -> AllowedRanges:
        """The valid entries of ``cidrs``; each rejected one is logged with the reason."""
        networks: list[Network] = []
        for cidr in list(cidrs)[:64]:
            try:
                network = ipaddress.ip_network(str(cidr)[:64], strict=True)
            except ValueError as error:
                log.warning("discovery: ignoring scan range %r: not a CIDR such as 192.168.10.0/24 (%s)", cidr, error)
                continue
            if network.num_addresses > MAX_SCAN_ADDRESSES:
                log.warning("discovery: ignoring scan range %s: %d addresses, more than the %d allowed per range",
                            network, network.num_addresses, MAX_SCAN_ADDRESSES)
                continue
            networks.append(network)
        return cls(tuple(networks))

    def __bool__(self) -> bool:
        return bool(self.networks)

    def __contains__(self, address: object) -> bool:
        if not isinstance(address, ipaddress.IPv4Address | ipaddress.IPv6Address):
            return False
        return any(address.version == network.version and address in network for network in self.networks)

    def check(self, address: IpAddress) -> None:
        """Raise :class:`OutsideAllowedRange` unless an allowed range contains ``address``."""
        if address not in self:
            raise OutsideAllowedRange(str(address))

    def is_target(self, address: IpAddress) -> bool:
        """Whether :meth:`targets` would yield ``address`` (capped count aside)."""
        if address.is_multicast or address.is_unspecified:
            return False
        return any(address.version == network.version and address in network and _is_host(address, network)
                   for network in self.networks)

    def targets(self, limit: int = MAX_SCAN_ADDRESSES) -> Iterator[IpAddress]:
        """Each scannable address once, in the order the ranges were listed, at most ``limit`` of them."""
        seen: set[IpAddress] = set()
        for network in self.networks:
            for address in network.hosts():
                if address in seen or address.is_multicast or address.is_unspecified:
                    continue
                if len(seen) >= limit:
                    log.warning("discovery: scan stops at %d addresses; the remaining ranges are not probed", limit)
                    return
                seen.add(address)
                yield address


def _is_host(address: IpAddress, network: Network) -> bool:
    """Mirror of ``hosts()``: IPv4 drops network and broadcast below /31, IPv6 the subnet-router anycast below /127."""
    if network.version == 4 and network.prefixlen <= 30:
        return address not in (network.network_address, network.broadcast_address)
    if network.version == 6 and network.prefixlen <= 126:
        return address != network.network_address
    return True
