"""The active scan: every allowed address, ICMP echo and a TCP connect per configured port, paced and capped.

Decide, then act: :class:`AllowedRanges` decides what may be probed; :class:`Scanner` only dispatches
probes, each after one token of the :class:`TokenBucket` (so ``rate_per_second`` holds over the whole scan)
and one slot of a bounded worker pool (so at most ``concurrency`` sockets are open). A host is reported
when anything answered: an echo reply, an open port, or a refused connection. The scan stops dispatching at
its time cap and reports what it found by then; probes in flight end within their own timeout.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from agent.discovery.addresses import IpAddress, sort_key
from agent.discovery.errors import OutsideAllowedRange
from agent.discovery.pacing import TokenBucket
from agent.discovery.probing import Prober
from agent.discovery.ranges import AllowedRanges
from agent.discovery.sightings import Sighting

log = logging.getLogger(__name__)


@dataclass
class ScanReport:
    sightings: list[Sighting] = field(default_factory=list)
    probes: int = 0
    seconds: float = 0.0
    sending_seconds: float = 0.0
    """From the first probe sent to the last: (probes - 1) / sending_seconds is the rate achieved."""
    complete: bool = True
    """False when the time cap stopped the scan before every probe was sent."""


@dataclass
class _Host:
    alive: bool = False
    open_ports: set[int] = field(default_factory=set)


class Scanner:
    def __init__(self, allowed: AllowedRanges, ports: Sequence[int], prober: Prober, bucket: TokenBucket, *,
                 concurrency: int = 32, time_cap: float = 600.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.allowed = allowed
        self.ports = sorted(set(ports))
        self.prober = prober
        self.bucket = bucket
        self.concurrency = max(1, concurrency)
        self.time_cap = time_cap
        self._clock = clock

    def scan(self, targets: Iterable[IpAddress] | None = None) -> ScanReport:
        """Probe ``targets`` (default: every allowed address); anything outside the allowed ranges is dropped."""
        started = self._clock()
        deadline = started + self.time_cap
        report = ScanReport()
        hosts: dict[IpAddress, _Host] = {}
        lock = threading.Lock()
        slots = threading.BoundedSemaphore(self.concurrency)

        def probe(address: IpAddress, port: int | None) -> None:
            try:
                if port is None:
                    answered, open_port = self.prober.ping(address), None
                else:
                    state = self.prober.connect(address, port)
                    answered, open_port = state != "silent", (port if state == "open" else None)
            except OutsideAllowedRange:
                log.error("discovery: the prober refused %s, outside the allowed ranges", address)
                return
            except Exception:  # a probe must never end the scan; the next one may work
                log.debug("discovery: probe of %s port %s failed", address, port, exc_info=True)
                return
            finally:
                slots.release()
            if answered:
                with lock:
                    host = hosts.setdefault(address, _Host())
                    host.alive = True
                    if open_port is not None:
                        host.open_ports.add(open_port)

        first_sent = last_sent = started
        kinds: list[int | None] = ([None] if self.prober.can_ping else []) + list(self.ports)
        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="discovery-probe") as pool:
            for address in targets if targets is not None else self.allowed.targets():
                if not self.allowed.is_target(address):
                    log.warning("discovery: not probing %s: no allowed scan range has it as a host address", address)
                    continue
                for kind in kinds:
                    if not self.bucket.acquire(deadline) or self._clock() >= deadline:
                        report.complete = False
                        break
                    slots.acquire()
                    last_sent = self._clock()
                    if not report.probes:
                        first_sent = last_sent
                    report.probes += 1
                    pool.submit(probe, address, kind)
                if not report.complete:
                    log.info("discovery: scan stopped at its %.0f s time cap after %d probes",
                             self.time_cap, report.probes)
                    break
        report.seconds = self._clock() - started
        report.sending_seconds = last_sent - first_sent
        report.sightings = [Sighting(ip=address, source="scan", open_ports=frozenset(host.open_ports))
                            for address, host in sorted(hosts.items(), key=lambda item: sort_key(item[0]))
                            if host.alive]
        return report
