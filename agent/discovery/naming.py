"""Names for what was found: reverse DNS for addresses, the IEEE registry's organisation for MACs.

Reverse DNS blocks in the C library for as long as the resolver likes, so lookups run on a few daemon
threads and the caller waits at most ``time_cap`` seconds overall: a lookup still running then is given
up (its thread ends on its own later and never holds the agent's exit). The vendor comes from netaddr's
copy of the IEEE OUI registry, shipped with the package, so nothing is downloaded. Locally administered
MACs (random per-network MACs of phones, veth pairs, VMs) have no registered vendor by definition and
get none, rather than whatever organisation happens to own those bits.
"""

from __future__ import annotations

import logging
import queue
import socket
import threading
import time
from collections.abc import Callable, Iterable
from functools import lru_cache

from netaddr import EUI, AddrFormatError, NotRegisteredError  # type: ignore[import-untyped, unused-ignore]

from agent.discovery.addresses import IpAddress

log = logging.getLogger(__name__)

Resolver = Callable[[str], str]
"""Address to host name; raises ``OSError`` when there is none."""


def reverse_dns(address: str) -> str:
    return socket.gethostbyaddr(address)[0]


def resolve_names(addresses: Iterable[IpAddress], resolver: Resolver = reverse_dns, *, workers: int = 8,
                  time_cap: float = 5.0) -> dict[IpAddress, str]:
    """The names found within ``time_cap`` seconds; an address without a name (or not in time) is absent."""
    pending: queue.Queue[IpAddress] = queue.Queue()
    for address in addresses:
        pending.put(address)
    names: dict[IpAddress, str] = {}
    done = threading.Event()
    lock = threading.Lock()
    remaining = [pending.qsize()]
    if not remaining[0]:
        return names

    def work() -> None:
        while True:
            try:
                address = pending.get_nowait()
            except queue.Empty:
                return
            try:
                name = resolver(str(address)).strip().rstrip(".")[:253]
            except (OSError, UnicodeError):
                name = ""
            with lock:
                if name and name != str(address):
                    names[address] = name
                remaining[0] -= 1
                if not remaining[0]:
                    done.set()

    for index in range(min(workers, remaining[0])):
        threading.Thread(target=work, name=f"discovery-dns-{index}", daemon=True).start()
    started = time.monotonic()
    if not done.wait(time_cap):
        log.debug("discovery: reverse DNS gave up after %.1f s with %d lookups unfinished",
                  time.monotonic() - started, remaining[0])
    with lock:
        return dict(names)


@lru_cache(maxsize=4096)
def vendor_of(mac: str) -> str:
    """The organisation that registered the MAC's OUI; '' when unregistered or locally administered."""
    try:
        eui = EUI(mac)
        if int(eui) >> 40 & 0x02:  # locally administered: not an IEEE assignment
            return ""
        return str(eui.oui.registration().org).strip()[:200]
    except (AddrFormatError, NotRegisteredError, ValueError, IndexError):
        return ""
