"""Neighbour tables and gateways parsed from recorded outputs of each OS (see fixtures/README.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.discovery import routes, tables
from agent.discovery.addresses import normalise_ip, normalise_mac

FIXTURES = Path(__file__).parent / "fixtures"


def rows(sightings: list) -> list[tuple[str, str | None, str, str]]:
    return [(str(s.ip), s.mac, s.interface, s.source) for s in sightings]


@pytest.mark.parametrize(("parser", "fixture", "expected"), [
    pytest.param(tables.parse_proc_arp, "proc_net_arp.txt", [
        ("192.0.2.1", "00:1b:63:0a:0b:0c", "eth0", "neighbour"),
        ("192.0.2.23", "3c:22:fb:aa:bb:cc", "eth0", "neighbour"),
        ("198.51.100.9", "02:42:c6:33:64:09", "docker0", "neighbour"),
    ], id="linux-proc-net-arp-skips-incomplete"),
    pytest.param(tables.parse_ip_neigh_json, "ip_neigh.json", [
        ("192.0.2.1", "00:1b:63:0a:0b:0c", "eth0", "neighbour"),
        ("2001:db8:7::1", "00:1b:63:0a:0b:0c", "eth0", "neighbour"),
        ("fe80::21b:63ff:fe0a:b0c", "00:1b:63:0a:0b:0c", "eth0", "neighbour"),
    ], id="linux-ip-neigh-skips-failed-incomplete-multicast"),
    pytest.param(tables.parse_windows_neighbours, "windows_get_netneighbor.json", [
        ("fe80::21b:63ff:fe0a:b0c", "00:1b:63:0a:0b:0c", "Ethernet", "neighbour"),
        ("192.0.2.23", "3c:22:fb:aa:bb:cc", "Ethernet", "neighbour"),
        ("192.0.2.1", "00:1b:63:0a:0b:0c", "Ethernet", "neighbour"),
    ], id="windows-numeric-states-skip-unreachable-broadcast-multicast"),
    pytest.param(tables.parse_windows_neighbours, "windows_get_netneighbor_single.json", [
        ("192.0.2.1", "00:1b:63:0a:0b:0c", "Wi-Fi", "neighbour"),
    ], id="windows-single-object-string-state"),
    pytest.param(tables.parse_macos_arp, "macos_arp_an.txt", [
        ("192.0.2.1", "00:1b:63:0a:0b:0c", "en0", "neighbour"),
        ("192.0.2.23", "3c:22:fb:aa:bb:cc", "en0", "neighbour"),
    ], id="macos-arp-unpadded-macs-skip-incomplete"),
    pytest.param(routes.parse_proc_route, "proc_net_route.txt", [
        ("192.0.2.1", None, "eth0", "gateway"),
    ], id="linux-proc-net-route-default-with-gateway-only"),
    pytest.param(routes.parse_proc_ipv6_route, "proc_net_ipv6_route.txt", [
        ("2001:db8:7::1", None, "eth0", "gateway"),
    ], id="linux-proc-net-ipv6-route"),
    pytest.param(routes.parse_ip_route_json, "ip_route.json", [
        ("192.0.2.1", None, "eth0", "gateway"),
        ("198.51.100.1", None, "eth1", "gateway"),
        ("198.51.100.2", None, "eth1", "gateway"),
    ], id="linux-ip-route-json-with-multipath"),
    pytest.param(routes.parse_ip_route_json, "ip_route6.json", [
        ("fe80::21b:63ff:fe0a:b0c", None, "eth0", "gateway"),
    ], id="linux-ip-6-route-json"),
    pytest.param(routes.parse_windows_routes, "windows_get_netroute.json", [
        ("fe80::21b:63ff:fe0a:b0c", None, "Ethernet", "gateway"),
        ("192.0.2.1", None, "Ethernet", "gateway"),
    ], id="windows-get-netroute-skips-on-link"),
    pytest.param(routes.parse_macos_netstat, "macos_netstat_rn.txt", [
        ("192.0.2.1", None, "en0", "gateway"),
        ("fe80::21b:63ff:fe0a:b0c", None, "en0", "gateway"),
        ("fe80::", None, "utun0", "gateway"),
    ], id="macos-netstat-skips-link-gateways"),
])
def test_recorded_output_parses_to_devices(parser, fixture: str, expected: list) -> None:
    assert rows(parser((FIXTURES / fixture).read_text())) == expected


@pytest.mark.parametrize("parser", [
    tables.parse_proc_arp, tables.parse_ip_neigh_json, tables.parse_windows_neighbours, tables.parse_macos_arp,
    routes.parse_proc_route, routes.parse_proc_ipv6_route, routes.parse_ip_route_json, routes.parse_windows_routes,
    routes.parse_macos_netstat,
], ids=lambda parser: parser.__name__)
@pytest.mark.parametrize("garbage", ["", "{", "null", "[1, \"x\", {\"dst\": 5}]", "\x00\xff garbage\nmore\tjunk 0x2",
                                     "IP address\n1.2.3 0xZZ 0x2 zz:zz *  eth0"],
                         ids=["empty", "truncated-json", "null", "wrong-types", "binary", "bad-fields"])
def test_garbage_gives_nothing_instead_of_raising(parser, garbage: str) -> None:
    assert parser(garbage) == []


@pytest.mark.parametrize(("text", "expected"), [
    ("00-1B-63-0A-0B-0C", "00:1b:63:0a:0b:0c"),
    ("0:1b:63:a:b:c", "00:1b:63:0a:0b:0c"),
    ("001b630a0b0c", "00:1b:63:0a:0b:0c"),
    ("001b.630a.0b0c", "00:1b:63:0a:0b:0c"),
    ("00:00:00:00:00:00", None),
    ("ff:ff:ff:ff:ff:ff", None),
    ("01:00:5e:00:00:16", None),
    ("33:33:00:00:00:16", None),
    ("00:1b:63:0a:0b", None),
    ("(incomplete)", None),
], ids=["windows", "macos-unpadded", "bare", "cisco", "zero", "broadcast", "ipv4-multicast", "ipv6-multicast",
        "short", "incomplete"])
def test_macs_are_normalised_and_non_devices_dropped(text: str, expected: str | None) -> None:
    assert normalise_mac(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("fe80::1%en0", "fe80::1"), ("192.0.2.1", "192.0.2.1"), ("224.0.0.251", None), ("0.0.0.0", None),
    ("255.255.255.255", None), ("ff02::1", None), ("link#11", None),
], ids=["scoped-ipv6", "ipv4", "multicast", "unspecified", "broadcast", "ipv6-multicast", "not-an-address"])
def test_addresses_are_normalised(text: str, expected: str | None) -> None:
    address = normalise_ip(text)
    assert (str(address) if address else None) == expected
