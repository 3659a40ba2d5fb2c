"""Normalising the addresses the OS prints, so every source agrees on one spelling.

Neighbour tables disagree on how to write a MAC (``0:1b:63:a:b:c`` on macOS, ``00-1B-63-0A-0B-0C`` on
Windows) and an IPv6 address (``fe80::1%en0``). Everything below turns them into the forms the
``NetworkNeighbour`` schema stores, and answers ``None`` for what is not a device: multicast and broadcast
addresses, all-zero MACs of incomplete entries, unparsable text.
"""

from __future__ import annotations

import ipaddress
import re

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_HEX = re.compile(r"^[0-9a-fA-F]{1,2}$")


def normalise_mac(text: str | None) -> str | None:
    """``aa:bb:cc:dd:ee:ff`` for a unicast MAC; ``None`` for all-zero, broadcast, multicast or garbage."""
    if not text:
        return None
    text = text.strip()[:64]
    if re.fullmatch(r"[0-9a-fA-F]{12}", text):
        octets = [text[i:i + 2] for i in range(0, 12, 2)]
    else:
        octets = re.split(r"[:\-.]", text)
        if len(octets) == 3 and all(re.fullmatch(r"[0-9a-fA-F]{4}", part) for part in octets):  # Cisco 0011.2233.4455
            octets = [part[i:i + 2] for part in octets for i in (0, 2)]
        if len(octets) != 6 or not all(_HEX.match(octet) for octet in octets):
            return None
    value = [int(octet, 16) for octet in octets]
    if value[0] & 0x01:  # group bit: multicast, and broadcast ff:ff:...
        return None
    if not any(value):
        return None
    return ":".join(f"{octet:02x}" for octet in value)


def normalise_ip(text: str | None) -> IpAddress | None:
    """The address without its ``%scope``; ``None`` for multicast, unspecified or unparsable text."""
    if not text:
        return None
    text = text.strip()[:64].split("%", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if address.is_multicast or address.is_unspecified:
        return None
    if isinstance(address, ipaddress.IPv4Address) and address == ipaddress.IPv4Address("255.255.255.255"):
        return None
    return address


def sort_key(address: IpAddress) -> tuple[int, int]:
    """IPv4 before IPv6, then numerically (``10.0.0.9`` before ``10.0.0.10``)."""
    return (address.version, int(address))
