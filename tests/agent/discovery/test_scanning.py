"""The active scan: only allowed addresses, paced by the token bucket, real probes on loopback."""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Iterator

import pytest

from agent.discovery.errors import OutsideAllowedRange
from agent.discovery.pacing import TokenBucket
from agent.discovery.probing import PortState, SocketProber, icmp_mode
from agent.discovery.ranges import MAX_SCAN_ADDRESSES, AllowedRanges
from agent.discovery.scanning import Scanner

ip = ipaddress.ip_address


class FakeClock:
    """Time that moves only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class RecordingProber:
    """Answers from a table and records every address it was asked about."""

    def __init__(self, answers: dict[str, dict[int, PortState]], pings: set[str] = frozenset()) -> None:
        self.answers = answers
        self.pings = pings
        self.probed: list[tuple[str, int | None]] = []
        self.lock = threading.Lock()

    @property
    def can_ping(self) -> bool:
        return bool(self.pings)

    def ping(self, address) -> bool:
        with self.lock:
            self.probed.append((str(address), None))
        return str(address) in self.pings

    def connect(self, address, port: int) -> PortState:
        with self.lock:
            self.probed.append((str(address), port))
        return self.answers.get(str(address), {}).get(port, "silent")


@pytest.fixture
def listener() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield server.getsockname()[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize(("cidrs", "expected"), [
    (["192.0.2.0/29"], [f"192.0.2.{i}" for i in range(1, 7)]),
    (["192.0.2.8/31"], ["192.0.2.8", "192.0.2.9"]),
    (["127.0.0.1/32"], ["127.0.0.1"]),
    (["192.0.2.0/30", "192.0.2.0/29"], ["192.0.2.1", "192.0.2.2"] + [f"192.0.2.{i}" for i in range(3, 7)]),
    (["2001:db8::/126"], ["2001:db8::1", "2001:db8::2", "2001:db8::3"]),
], ids=["skips-network-and-broadcast", "point-to-point-31-keeps-both", "single-host", "overlap-once", "ipv6"])
def test_targets_are_the_hosts_of_allowed_ranges(cidrs: list[str], expected: list[str]) -> None:
    assert [str(a) for a in AllowedRanges.parse(cidrs).targets()] == expected


@pytest.mark.parametrize("cidr", ["10.0.0.0/15", "192.0.2.1/24", "not-a-cidr", "10.0.0.0/33", "2001:db8::/64"],
                         ids=["larger-than-16", "host-bits-set", "garbage", "bad-prefix", "ipv6-too-large"])
def test_ranges_the_controller_should_have_refused_are_dropped(cidr: str) -> None:
    assert not AllowedRanges.parse([cidr])


def test_total_addresses_are_capped_over_all_ranges() -> None:
    allowed = AllowedRanges.parse(["10.1.0.0/16", "10.2.0.0/16"])
    targets = list(allowed.targets())
    assert len(targets) == MAX_SCAN_ADDRESSES
    assert str(targets[0]) == "10.1.0.1" and str(targets[-1]).startswith("10.2.")


def test_the_scanner_never_probes_outside_the_allowed_ranges() -> None:
    allowed = AllowedRanges.parse(["192.0.2.0/30"])
    prober = RecordingProber({"192.0.2.1": {22: "open"}, "198.51.100.1": {22: "open"}}, pings={"198.51.100.1"})
    clock = FakeClock()
    scanner = Scanner(allowed, [22], prober, TokenBucket(1000, clock=clock, sleep=clock.sleep), clock=clock)

    report = scanner.scan([ip("198.51.100.1"), ip("192.0.2.1"), ip("192.0.2.2"), ip("8.8.8.8"), ip("192.0.2.3")])

    probed_hosts = {address for address, _ in prober.probed}
    assert probed_hosts == {"192.0.2.1", "192.0.2.2"}  # .3 is the /30's broadcast, but was passed explicitly
    assert [str(s.ip) for s in report.sightings] == ["192.0.2.1"]


def test_the_socket_prober_refuses_an_address_outside_the_allowed_ranges() -> None:
    prober = SocketProber(AllowedRanges.parse(["127.0.0.1/32"]), timeout=0.2, icmp=icmp_mode())
    with pytest.raises(OutsideAllowedRange, match=r"127\.0\.0\.2") as refused:
        prober.connect(ip("127.0.0.2"), 80)
    assert "activeScan.cidrs" in str(refused.value)
    with pytest.raises(OutsideAllowedRange):
        prober.ping(ip("127.0.0.2"))


def test_no_allowed_ranges_means_no_probe_at_all() -> None:
    prober = RecordingProber({}, pings={"192.0.2.1"})
    clock = FakeClock()
    Scanner(AllowedRanges.parse([]), [22, 80], prober, TokenBucket(10, clock=clock, sleep=clock.sleep),
            clock=clock).scan()
    assert prober.probed == []


@pytest.mark.parametrize("rate", [1, 20, 250], ids=["1-per-second", "20-per-second", "250-per-second"])
def test_the_token_bucket_spaces_tokens_at_the_rate(rate: int) -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate, clock=clock, sleep=clock.sleep)
    start = clock()
    for _ in range(101):
        assert bucket.acquire()
    assert clock() - start == pytest.approx(100 / rate)


def test_the_token_bucket_refuses_a_token_past_the_deadline() -> None:
    clock = FakeClock()
    bucket = TokenBucket(2, clock=clock, sleep=clock.sleep)
    assert bucket.acquire(deadline=clock() + 0.1)
    assert not bucket.acquire(deadline=clock() + 0.1)  # the next token is 0.5 s away
    assert clock.sleeps == []


def test_a_scan_sends_probes_at_the_configured_rate_and_stops_at_its_time_cap() -> None:
    clock = FakeClock()
    prober = RecordingProber({"10.9.0.5": {443: "closed"}}, pings={"10.9.0.7"})
    scanner = Scanner(AllowedRanges.parse(["10.9.0.0/24"]), [22, 443], prober,
                      TokenBucket(50, clock=clock, sleep=clock.sleep), time_cap=4.0, clock=clock)

    report = scanner.scan()

    assert not report.complete
    assert report.probes == len(prober.probed) == 200 + 1  # 50/s for 4 s, plus the first token already there
    assert report.seconds == pytest.approx(4.0, abs=0.05)
    assert {(str(s.ip), tuple(s.open_ports)) for s in report.sightings} == {("10.9.0.5", ()), ("10.9.0.7", ())}


def test_loopback_scan_finds_the_listening_port_and_not_an_unlisted_one(listener: int) -> None:
    closed = free_port()
    allowed = AllowedRanges.parse(["127.0.0.1/32"])
    scanner = Scanner(allowed, [listener, closed], SocketProber(allowed, timeout=0.5, icmp=icmp_mode()),
                      TokenBucket(100))

    report = scanner.scan()

    assert [(str(s.ip), sorted(s.open_ports), s.source) for s in report.sightings] == [
        ("127.0.0.1", [listener], "scan")]
    assert report.complete


def test_loopback_30_scan_reports_every_answering_host(listener: int) -> None:
    allowed = AllowedRanges.parse(["127.0.0.0/30"])
    scanner = Scanner(allowed, [listener], SocketProber(allowed, timeout=0.5, icmp=None), TokenBucket(100))
    report = scanner.scan()
    # 127.0.0.1 has the listener; 127.0.0.2 answers with a RST (refused), which proves it is up.
    assert [(str(s.ip), sorted(s.open_ports)) for s in report.sightings] == [
        ("127.0.0.1", [listener]), ("127.0.0.2", [])]
    assert report.probes == 2


def test_icmp_echo_on_loopback_when_the_os_permits_it() -> None:
    mode = icmp_mode()
    if mode is None:
        pytest.skip("ICMP echo not permitted to this process (not root, ping_group_range excludes our group)")
    prober = SocketProber(AllowedRanges.parse(["127.0.0.1/32"]), timeout=1.0, icmp=mode)
    assert prober.ping(ip("127.0.0.1"))


def test_is_target_agrees_with_targets() -> None:
    allowed = AllowedRanges.parse(["192.0.2.0/29", "192.0.2.8/31", "2001:db8::/126"])
    candidates = [ipaddress.ip_address(f"192.0.2.{i}") for i in range(0, 16)]
    candidates += [ipaddress.ip_address(f"2001:db8::{i}") for i in range(0, 6)]
    assert [a for a in candidates if allowed.is_target(a)] == list(allowed.targets())
