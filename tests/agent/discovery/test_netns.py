"""Discovery between two network namespaces this test creates, joined by a veth pair (needs root).

ns "scanner" (10.213.7.1/29) runs the agent's discovery as a real subprocess; ns "peer" (10.213.7.2/29)
runs a TCP listener. Nothing leaves the two namespaces: they have no route anywhere else. The namespaces
are deleted by the fixture's finalizer whatever happens.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
CIDR = "10.213.7.0/29"
SCANNER_IP, PEER_IP = "10.213.7.1", "10.213.7.2"

DISCOVER = textwrap.dedent("""
    import json, sys, time
    from agent.discovery import collect_network
    from agent.discovery.collecting import active_scan, default_environment
    from schemas.inventory import DiscoverySettings
    settings = DiscoverySettings.model_validate_json(sys.argv[1])
    started = time.monotonic()
    if sys.argv[2] == "collect":
        network = [entry.model_dump(mode="json") for entry in collect_network(settings)]
        print(json.dumps({"seconds": time.monotonic() - started, "network": network}))
    else:
        report = active_scan(settings, default_environment())
        print(json.dumps({"seconds": report.seconds, "probes": report.probes, "sending": report.sending_seconds,
                          "hosts": [str(s.ip) for s in report.sightings]}))
""")

LISTEN = textwrap.dedent("""
    import socket, sys, time
    server = socket.socket()
    server.bind((sys.argv[1], 0))
    server.listen(16)
    print(server.getsockname()[1], flush=True)
    time.sleep(120)  # ends by itself even if the finalizer never runs
""")


@dataclass
class Namespaces:
    scanner: str
    peer: str
    peer_mac: str
    port: int
    closed_port: int

    def discover(self, mode: str, **settings: object) -> dict:
        completed = subprocess.run(
            ["ip", "netns", "exec", self.scanner, sys.executable, "-c", DISCOVER, json.dumps(settings), mode],
            cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
            env={**os.environ, "PYTHONPATH": str(REPO)})
        assert completed.returncode == 0, completed.stderr
        return json.loads(completed.stdout)


def _ip(*args: str) -> str:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=True, timeout=30).stdout


@pytest.fixture
def namespaces() -> Iterator[Namespaces]:
    if os.geteuid() != 0:
        pytest.skip("network namespace tests need root (ip netns add)")
    if shutil.which("ip") is None:
        pytest.skip("network namespace tests need iproute2's ip command")
    tag = f"{os.getpid() % 100000}"
    scanner, peer = f"fwdisc-{tag}-s", f"fwdisc-{tag}-p"
    created: list[str] = []
    listener: subprocess.Popen[str] | None = None
    try:
        for name in (scanner, peer):
            try:
                _ip("netns", "add", name)
            except subprocess.CalledProcessError as error:
                pytest.skip(f"ip netns add does not work here: {error.stderr.strip()}")
            created.append(name)
        _ip("link", "add", f"fwv{tag}s", "netns", scanner, "type", "veth", "peer", "name", f"fwv{tag}p", "netns", peer)
        for name, device, address in ((scanner, f"fwv{tag}s", SCANNER_IP), (peer, f"fwv{tag}p", PEER_IP)):
            _ip("-n", name, "addr", "add", f"{address}/29", "dev", device)
            _ip("-n", name, "link", "set", device, "up")
            _ip("-n", name, "link", "set", "lo", "up")
        peer_mac = json.loads(_ip("-j", "-n", peer, "link", "show", f"fwv{tag}p"))[0]["address"]
        listener = subprocess.Popen(["ip", "netns", "exec", peer, sys.executable, "-c", LISTEN, PEER_IP],
                                    stdout=subprocess.PIPE, text=True)
        assert listener.stdout is not None
        port = int(listener.stdout.readline())
        yield Namespaces(scanner=scanner, peer=peer, peer_mac=peer_mac, port=port, closed_port=port + 1)
    finally:
        if listener is not None:
            listener.kill()
            listener.wait(timeout=10)
            if listener.stdout:
                listener.stdout.close()
        for name in created:
            subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False, timeout=30)


def test_scan_finds_the_peer_with_its_open_port_and_real_mac(namespaces: Namespaces) -> None:
    result = namespaces.discover("collect", active_cidrs=[CIDR], ports=[namespaces.port, namespaces.closed_port],
                                 rate_per_second=1000)

    by_ip = {entry["ip"]: entry for entry in result["network"]}
    peer = by_ip[PEER_IP]
    assert peer["source"] == "scan"
    assert peer["open_ports"] == [namespaces.port]
    assert peer["mac"] == namespaces.peer_mac  # from the neighbour table the scan filled
    assert peer["vendor"] == ""  # veth MACs are locally administered: no IEEE vendor
    # Nothing lives on .3-.6: silent addresses are not reported; the network/broadcast addresses are not probed.
    assert set(by_ip) <= {SCANNER_IP, PEER_IP}
    print(f"\n/29 collect_network with scan: {result['seconds']:.2f} s")


def test_passive_discovery_reports_the_peer_from_the_neighbour_table(namespaces: Namespaces) -> None:
    # Ordinary traffic to the peer (one TCP connection) fills the neighbour table; discovery sends nothing.
    subprocess.run(["ip", "netns", "exec", namespaces.scanner, sys.executable, "-c",
                    f"import socket; socket.create_connection(('{PEER_IP}', {namespaces.port}), timeout=5).close()"],
                   check=True, timeout=30)
    result = namespaces.discover("collect", ports=[namespaces.port])

    assert [(e["ip"], e["mac"], e["source"], e["open_ports"]) for e in result["network"]] == [
        (PEER_IP, namespaces.peer_mac, "neighbour", [])]


def test_scan_rate_stays_at_the_configured_rate(namespaces: Namespaces) -> None:
    rate = 20
    report = namespaces.discover("scan", active_cidrs=[CIDR], ports=[namespaces.port, namespaces.closed_port],
                                 rate_per_second=rate)

    assert PEER_IP in report["hosts"]
    measured = (report["probes"] - 1) / report["sending"]
    assert measured <= rate * 1.05
    assert measured >= rate * 0.5  # the bucket, not something else, is what limits the scan
    print(f"\n/29 scan at rate {rate}: {report['probes']} probes sent in {report['sending']:.2f} s "
          f"({measured:.1f} probes/s), scan done in {report['seconds']:.2f} s")
