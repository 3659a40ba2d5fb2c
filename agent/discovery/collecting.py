"""Putting discovery together: the active scan first, then the neighbour tables and gateways, then names.

The scan goes first so the neighbour table read afterwards holds fresh entries (with MACs) for the hosts
that answered. Every source is read through :class:`DiscoveryEnvironment`, whose fields are the file
paths, commands, resolver, prober factory and clock, so tests point each at recorded outputs or at
namespaces they own; :func:`default_environment` picks the real ones for this OS. No source may raise
out of :func:`discover`: a failing part is empty and logged at debug level.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from agent.discovery import routes, tables
from agent.discovery.addresses import IpAddress
from agent.discovery.interfaces import InterfaceReader, OwnAddress, read_own_addresses
from agent.discovery.merging import build_section
from agent.discovery.naming import Resolver, resolve_names, reverse_dns, vendor_of
from agent.discovery.pacing import TokenBucket
from agent.discovery.probing import Prober, SocketProber, icmp_mode
from agent.discovery.ranges import AllowedRanges
from agent.discovery.reading import read_text, run_command
from agent.discovery.scanning import Scanner, ScanReport
from agent.discovery.sightings import Sighting
from schemas.inventory import DiscoverySettings, NetworkNeighbour

log = logging.getLogger(__name__)

T = TypeVar("T")

Command = tuple[str, ...]
_POWERSHELL = ("powershell.exe", "-NoProfile", "-NonInteractive", "-Command")


def _socket_prober(allowed: AllowedRanges, timeout: float) -> Prober:
    return SocketProber(allowed, timeout=timeout, icmp=icmp_mode())


@dataclass(frozen=True)
class DiscoveryEnvironment:
    """Where each part of discovery reads from; every field can be swapped in tests."""

    platform: str = "linux"
    proc_arp: Path = Path("/proc/net/arp")
    proc_route: Path = Path("/proc/net/route")
    proc_ipv6_route: Path = Path("/proc/net/ipv6_route")
    ip_neigh: Command = ("ip", "-j", "neigh", "show")
    ip_routes: tuple[Command, ...] = (("ip", "-j", "route", "show", "default"),
                                      ("ip", "-j", "-6", "route", "show", "default"))
    windows_neighbours: Command = (*_POWERSHELL, "Get-NetNeighbor | Select-Object IPAddress,LinkLayerAddress,"
                                   "State,InterfaceAlias,AddressFamily | ConvertTo-Json")
    windows_routes: Command = (*_POWERSHELL, "Get-NetRoute -DestinationPrefix '0.0.0.0/0','::/0' | Select-Object "
                               "DestinationPrefix,NextHop,InterfaceAlias | ConvertTo-Json")
    macos_arp: Command = ("arp", "-an")
    macos_netstat: Command = ("netstat", "-rn")
    command_timeout: float = 15.0
    own_addresses: InterfaceReader = read_own_addresses
    resolver: Resolver = reverse_dns
    dns_time_cap: float = 5.0
    vendor_of: Callable[[str], str] = vendor_of
    prober_factory: Callable[[AllowedRanges, float], Prober] = _socket_prober
    probe_timeout: float = 1.0
    concurrency: int = 32
    scan_time_cap: float = 600.0
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = field(default=time.sleep)


def default_environment() -> DiscoveryEnvironment:
    platform = "windows" if sys.platform == "win32" else "macos" if sys.platform == "darwin" else "linux"
    return DiscoveryEnvironment(platform=platform)


def discover(settings: DiscoverySettings, environment: DiscoveryEnvironment) -> list[NetworkNeighbour]:
    """The ``network`` section; never raises (a failing part is empty, logged at debug level)."""
    own: list[OwnAddress] = _guarded("own interfaces", list, lambda: list(environment.own_addresses()))
    sightings: list[Sighting] = []
    sightings += _guarded("active scan", list, lambda: active_scan(settings, environment).sightings)
    sightings += _guarded("neighbour tables", list, lambda: neighbours(environment))
    sightings += _guarded("gateways", list, lambda: gateways(environment))
    addresses = sorted({sighting.ip for sighting in sightings}, key=lambda ip: (ip.version, int(ip)))
    names: dict[IpAddress, str] = _guarded("reverse DNS", dict, lambda: resolve_names(addresses, environment.resolver,
                                                                time_cap=environment.dns_time_cap))
    return _guarded("merging", list, lambda: build_section(sightings, own, names, environment.vendor_of))


def active_scan(settings: DiscoverySettings, environment: DiscoveryEnvironment) -> ScanReport:
    """Scan the allowed ranges (none: nothing is probed at all)."""
    allowed = AllowedRanges.parse(settings.active_cidrs)
    if not allowed:
        return ScanReport()
    bucket = TokenBucket(settings.rate_per_second, clock=environment.clock, sleep=environment.sleep)
    scanner = Scanner(allowed, settings.ports, environment.prober_factory(allowed, environment.probe_timeout),
                      bucket, concurrency=environment.concurrency, time_cap=environment.scan_time_cap,
                      clock=environment.clock)
    report = scanner.scan()
    log.debug("discovery: scan of %s sent %d probes in %.1f s, %d hosts answered", settings.active_cidrs,
              report.probes, report.seconds, len(report.sightings))
    return report


def neighbours(environment: DiscoveryEnvironment) -> list[Sighting]:
    """The OS neighbour tables (ARP and NDP)."""
    if environment.platform == "windows":
        return tables.parse_windows_neighbours(_run(environment.windows_neighbours, environment) or "")
    if environment.platform == "macos":
        return tables.parse_macos_arp(_run(environment.macos_arp, environment) or "")
    found = tables.parse_proc_arp(read_text(environment.proc_arp) or "")
    found += tables.parse_ip_neigh_json(_run(environment.ip_neigh, environment) or "")
    return found


def gateways(environment: DiscoveryEnvironment) -> list[Sighting]:
    """The default gateways of every address family."""
    if environment.platform == "windows":
        return routes.parse_windows_routes(_run(environment.windows_routes, environment) or "")
    if environment.platform == "macos":
        return routes.parse_macos_netstat(_run(environment.macos_netstat, environment) or "")
    ipv4, ipv6 = read_text(environment.proc_route), read_text(environment.proc_ipv6_route)
    if ipv4 is None and ipv6 is None:  # /proc not mounted (some containers): ask iproute2
        return [hop for command in environment.ip_routes
                for hop in routes.parse_ip_route_json(_run(command, environment) or "")]
    return routes.parse_proc_route(ipv4 or "") + routes.parse_proc_ipv6_route(ipv6 or "")


def _run(command: Sequence[str], environment: DiscoveryEnvironment) -> str | None:
    return run_command(command, timeout=environment.command_timeout)


def _guarded(part: str, empty: Callable[[], T], produce: Callable[[], T]) -> T:
    try:
        return produce()
    except Exception:  # discovery is best effort: one broken part must not lose the others or the report
        log.debug("discovery: %s failed; reporting it empty", part, exc_info=True)
        return empty()

