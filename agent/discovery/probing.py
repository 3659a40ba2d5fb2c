"""The probes of an active scan: ICMP echo where the OS permits it, TCP connect to the configured ports.

ICMP comes in three forms, chosen once per scan by :func:`icmp_mode`:

* ``dgram``: the unprivileged ICMP datagram socket Linux and macOS offer (on Linux when the process's
  group is inside ``net.ipv4.ping_group_range``); the kernel fills in the identifier and only hands
  back replies to our own requests.
* ``raw``: a raw socket, when we are root (or hold CAP_NET_RAW) but datagram ICMP is not allowed. Every
  raw socket sees every ICMP packet, so replies are matched on source, identifier and sequence.
* ``None``: neither is allowed (an unprivileged agent on a locked-down host); ICMP is skipped, said at
  debug level, and TCP alone decides.

A TCP probe counts a refused connection as proof the host is up: something answered with a RST.
Every probe re-checks the allowed ranges itself and raises :class:`OutsideAllowedRange` otherwise, so
this module can never be pointed at a network the client did not list, whatever its caller does.
"""

from __future__ import annotations

import ipaddress
import itertools
import logging
import os
import socket
import struct
import threading
import time
from typing import Literal, Protocol

from agent.discovery.addresses import IpAddress
from agent.discovery.ranges import AllowedRanges

log = logging.getLogger(__name__)

PortState = Literal["open", "closed", "silent"]
IcmpMode = Literal["dgram", "raw"]

_ECHO_REQUEST = {4: 8, 6: 128}
_ECHO_REPLY = {4: 0, 6: 129}
_PROTOCOL = {4: socket.IPPROTO_ICMP, 6: socket.IPPROTO_ICMPV6}
_FAMILY = {4: socket.AF_INET, 6: socket.AF_INET6}


class Prober(Protocol):
    """What the scanner needs from the network; tests substitute a recording one."""

    @property
    def can_ping(self) -> bool: ...

    def ping(self, address: IpAddress) -> bool: ...

    def connect(self, address: IpAddress, port: int) -> PortState: ...


def icmp_mode() -> IcmpMode | None:
    """Which ICMP echo socket this process may open, trying the unprivileged one first."""
    for mode, kind in (("dgram", socket.SOCK_DGRAM), ("raw", socket.SOCK_RAW)):
        try:
            socket.socket(socket.AF_INET, kind, socket.IPPROTO_ICMP).close()
        except OSError as error:
            log.debug("discovery: no %s ICMP socket (%s)", mode, error)
            continue
        return "dgram" if mode == "dgram" else "raw"
    log.debug("discovery: ICMP echo is not permitted to this process (neither a datagram ICMP socket, see "
              "net.ipv4.ping_group_range, nor a raw socket as root); scanning with TCP connects only")
    return None


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


class SocketProber:
    """Real probes over sockets, each bounded by ``timeout`` seconds."""

    def __init__(self, allowed: AllowedRanges, *, timeout: float = 1.0, icmp: IcmpMode | None = None) -> None:
        self.allowed = allowed
        self.timeout = timeout
        self.icmp = icmp
        self._identifier = os.getpid() & 0xFFFF
        self._sequence = itertools.count(1)
        self._lock = threading.Lock()

    @property
    def can_ping(self) -> bool:
        return self.icmp is not None

    def connect(self, address: IpAddress, port: int) -> PortState:
        self.allowed.check(address)
        with socket.socket(_FAMILY[address.version], socket.SOCK_STREAM) as sock:
            sock.settimeout(self.timeout)
            try:
                sock.connect((str(address), port))
            except ConnectionRefusedError:
                return "closed"
            except OSError:  # timeout, host or network unreachable: nothing answered
                return "silent"
            # Close with a RST instead of lingering in FIN_WAIT/TIME_WAIT: the peer sees a short connect.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return "open"

    def ping(self, address: IpAddress) -> bool:
        self.allowed.check(address)
        if self.icmp is None:
            return False
        with self._lock:
            sequence = next(self._sequence) & 0xFFFF
        kind = socket.SOCK_DGRAM if self.icmp == "dgram" else socket.SOCK_RAW
        try:
            with socket.socket(_FAMILY[address.version], kind, _PROTOCOL[address.version]) as sock:
                return self._echo(sock, address, sequence)
        except OSError as error:
            log.debug("discovery: ICMP echo to %s failed: %s", address, error)
            return False

    def _echo(self, sock: socket.socket, address: IpAddress, sequence: int) -> bool:
        version = address.version
        header = struct.pack("!BBHHH", _ECHO_REQUEST[version], 0, 0, self._identifier, sequence)
        payload = b"fleetward-discovery"
        if version == 4:  # the kernel computes ICMPv6 checksums itself
            header = header[:2] + struct.pack("!H", _checksum(header + payload)) + header[4:]
        sock.sendto(header + payload, (str(address), 0))
        deadline = time.monotonic() + self.timeout
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            try:
                data, source = sock.recvfrom(2048)
            except OSError:  # timeout, or an ICMP error the kernel reports on the socket
                return False
            if ipaddress.ip_address(source[0].split("%", 1)[0]) != address:
                continue
            if version == 4 and self.icmp == "raw":
                data = data[(data[0] & 0x0F) * 4:]  # raw IPv4 sockets include the IP header
            if len(data) < 8:
                continue
            kind, _code, _sum, identifier, reply_sequence = struct.unpack("!BBHHH", data[:8])
            # Datagram sockets rewrite the identifier to their port; they only see their own replies.
            if kind == _ECHO_REPLY[version] and reply_sequence == sequence and (
                    self.icmp == "dgram" or identifier == self._identifier):
                return True
        return False
