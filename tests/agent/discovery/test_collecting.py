"""The ``network`` section end to end on recorded tables: merged, named, sorted, capped, never raising."""

from __future__ import annotations

import hashlib
import ipaddress
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from agent.discovery.collecting import DiscoveryEnvironment, discover
from agent.discovery.interfaces import OwnAddress
from agent.discovery.merging import MAX_ENTRIES, build_section
from agent.discovery.naming import resolve_names, vendor_of
from agent.discovery.sightings import Sighting
from schemas.inventory import DiscoverySettings

FIXTURES = Path(__file__).parent / "fixtures"
MISSING = ("fleetward-no-such-command",)


def cat(name: str) -> tuple[str, ...]:
    """A real subprocess printing a recorded output, standing in for ip/arp/netstat/PowerShell."""
    return (sys.executable, "-c", "import sys; sys.stdout.write(open(sys.argv[1]).read())", str(FIXTURES / name))


def names(address: str) -> str:
    table = {"192.0.2.1": "router.example.test.", "192.0.2.23": "printer.example.test"}
    if address not in table:
        raise OSError("no PTR record")
    return table[address]


def environment(**overrides: object) -> DiscoveryEnvironment:
    base = DiscoveryEnvironment(
        platform="linux", proc_arp=FIXTURES / "proc_net_arp.txt", proc_route=FIXTURES / "proc_net_route.txt",
        proc_ipv6_route=FIXTURES / "proc_net_ipv6_route.txt", ip_neigh=cat("ip_neigh.json"),
        ip_routes=(cat("ip_route.json"), cat("ip_route6.json")), windows_neighbours=cat("windows_get_netneighbor.json"),
        windows_routes=cat("windows_get_netroute.json"), macos_arp=cat("macos_arp_an.txt"),
        macos_netstat=cat("macos_netstat_rn.txt"), resolver=names,
        own_addresses=lambda: [OwnAddress("eth0", ipaddress.ip_interface("192.0.2.10/24"), "00:1b:63:00:00:10")])
    return replace(base, **overrides)


def rows(section: list) -> list[tuple]:
    return [(e.ip, e.mac, e.source, e.interface, e.hostname, e.vendor) for e in section]


def test_linux_tables_and_gateways_merge_into_one_sorted_section() -> None:
    section = discover(DiscoverySettings(), environment())
    assert rows(section) == [
        ("192.0.2.1", "00:1b:63:0a:0b:0c", "gateway", "eth0", "router.example.test", "Apple, Inc."),
        ("192.0.2.23", "3c:22:fb:aa:bb:cc", "neighbour", "eth0", "printer.example.test", "Apple, Inc."),
        ("198.51.100.9", "02:42:c6:33:64:09", "neighbour", "docker0", "", ""),
        ("2001:db8:7::1", "00:1b:63:0a:0b:0c", "gateway", "eth0", "", "Apple, Inc."),
        ("fe80::21b:63ff:fe0a:b0c", "00:1b:63:0a:0b:0c", "neighbour", "eth0", "", "Apple, Inc."),
    ]


@pytest.mark.parametrize(("platform", "expected"), [
    ("windows", [("192.0.2.1", "00:1b:63:0a:0b:0c", "gateway", "Ethernet"),
                 ("192.0.2.23", "3c:22:fb:aa:bb:cc", "neighbour", "Ethernet"),
                 ("fe80::21b:63ff:fe0a:b0c", "00:1b:63:0a:0b:0c", "gateway", "Ethernet")]),
    ("macos", [("192.0.2.1", "00:1b:63:0a:0b:0c", "gateway", "en0"),
               ("192.0.2.23", "3c:22:fb:aa:bb:cc", "neighbour", "en0"),
               ("fe80::", None, "gateway", "utun0"),
               ("fe80::21b:63ff:fe0a:b0c", None, "gateway", "en0")]),
], ids=["windows", "macos"])
def test_other_platforms_read_their_own_commands(platform: str, expected: list) -> None:
    section = discover(DiscoverySettings(), environment(platform=platform))
    assert [(e.ip, e.mac, e.source, e.interface) for e in section] == expected


def test_without_proc_the_gateways_come_from_ip_route() -> None:
    section = discover(DiscoverySettings(), environment(proc_route=Path("/nonexistent/route"),
                                                       proc_ipv6_route=Path("/nonexistent/ipv6_route")))
    gateways = [e.ip for e in section if e.source == "gateway"]
    assert gateways == ["192.0.2.1", "198.51.100.1", "198.51.100.2", "fe80::21b:63ff:fe0a:b0c"]


def test_missing_files_and_commands_give_an_empty_section_not_an_error(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG", logger="agent.discovery")
    nowhere = Path("/nonexistent/fleetward")
    env = environment(proc_arp=nowhere, proc_route=nowhere, proc_ipv6_route=nowhere, ip_neigh=MISSING,
                      ip_routes=(MISSING,))
    assert discover(DiscoverySettings(), env) == []
    assert "fleetward-no-such-command is not installed" in caplog.text
    assert "cannot read /nonexistent/fleetward" in caplog.text


def test_a_failing_command_and_a_crashing_part_do_not_lose_the_rest() -> None:
    failing = (sys.executable, "-c", "import sys; print('[{\"dst\": \"192.0.2.99\"}]'); sys.exit(2)")

    def broken_interfaces() -> list[OwnAddress]:
        raise RuntimeError("psutil exploded")

    section = discover(DiscoverySettings(), environment(ip_neigh=failing, own_addresses=broken_interfaces))
    assert "192.0.2.99" not in {e.ip for e in section}
    assert {e.ip for e in section} >= {"192.0.2.1", "192.0.2.23"}


def test_a_command_past_its_timeout_is_killed_and_ignored() -> None:
    slow = (sys.executable, "-c", "import time; time.sleep(30)")
    started = time.monotonic()
    section = discover(DiscoverySettings(), environment(ip_neigh=slow, command_timeout=0.5))
    assert time.monotonic() - started < 10
    assert "192.0.2.1" in {e.ip for e in section}


def test_identical_networks_hash_the_same_whatever_the_order_seen() -> None:
    sightings = [Sighting(ipaddress.ip_address(f"10.0.{i % 3}.{i}"), f"00:1b:63:00:00:{i:02x}") for i in range(1, 60)]
    sightings += [Sighting(ipaddress.ip_address("10.0.1.4"), None, source="scan", open_ports=frozenset({443, 22}))]

    def digest(items: list[Sighting]) -> str:
        section = build_section(items, [], {}, vendor_of)
        return hashlib.sha256(json.dumps([e.model_dump(mode="json") for e in section]).encode()).hexdigest()

    assert digest(sightings) == digest(list(reversed(sightings))) == digest(sightings[30:] + sightings[:30])


def test_a_scan_hit_takes_the_neighbour_mac_and_merges_with_it() -> None:
    ip = ipaddress.ip_address("192.0.2.5")
    sightings = [Sighting(ip, source="scan", open_ports=frozenset({80, 22})), Sighting(ip, "00:1b:63:0a:0b:0c", "eth0"),
                 Sighting(ip, "00:1b:63:0a:0b:0c", "eth0")]
    section = build_section(sightings, [], {}, vendor_of)
    assert [(e.ip, e.mac, e.source, e.open_ports, e.interface) for e in section] == [
        ("192.0.2.5", "00:1b:63:0a:0b:0c", "scan", [22, 80], "eth0")]


def test_the_section_is_capped_at_the_protocol_limit_keeping_the_lowest_addresses() -> None:
    network = ipaddress.ip_network("10.20.0.0/18")
    sightings = [Sighting(address, source="scan") for address in reversed(list(network.hosts()))]
    section = build_section(sightings, [], {}, vendor_of)
    assert len(section) == MAX_ENTRIES
    assert (section[0].ip, section[-1].ip) == ("10.20.0.1", str(network.network_address + MAX_ENTRIES))


@pytest.mark.parametrize(("mac", "vendor"), [
    ("00:1b:63:0a:0b:0c", "Apple, Inc."), ("02:42:c6:33:64:09", ""), ("00:00:5e:00:53:01", "ICANN, IANA Department"),
    ("ac:de:48:00:11:22", "Private"),
], ids=["registered", "locally-administered", "iana", "private-block"])
def test_vendor_comes_from_the_shipped_oui_registry(mac: str, vendor: str) -> None:
    assert vendor_of(mac) == vendor


def test_reverse_dns_gives_up_at_its_time_cap() -> None:
    def slow(address: str) -> str:
        if address.endswith(".2"):
            time.sleep(5)
        return f"host-{address.replace('.', '-')}.example.test"

    addresses = [ipaddress.ip_address(f"192.0.2.{i}") for i in (1, 2, 3)]
    started = time.monotonic()
    found = resolve_names(addresses, slow, workers=2, time_cap=0.5)
    assert time.monotonic() - started < 2
    assert {str(a): n for a, n in found.items()} == {"192.0.2.1": "host-192-0-2-1.example.test",
                                                     "192.0.2.3": "host-192-0-2-3.example.test"}


@pytest.mark.parametrize(("reverse_dns", "looked_up"), [pytest.param(True, True, id="on"),
                                                       pytest.param(False, False, id="off")])
def test_reverse_dns_can_be_switched_off(monkeypatch: pytest.MonkeyPatch, reverse_dns: bool,
                                         looked_up: bool) -> None:
    import agent.discovery as discovery

    asked: list[str] = []

    def recording(address: str) -> str:
        asked.append(address)
        return names(address)

    monkeypatch.setattr(discovery, "default_environment", lambda: environment(resolver=recording))
    section = discovery.collect_network(DiscoverySettings(), reverse_dns=reverse_dns)
    assert section, "the recorded neighbour tables list devices"
    assert bool(asked) is looked_up
    assert any(device.hostname for device in section) is looked_up
