"""Parsers for the OS neighbour (ARP/NDP) tables: Linux, Windows and macOS.

Pure functions from the text a file or command printed to :class:`Sighting` values, so each format is
tested against recorded outputs (``tests/agent/discovery/fixtures``) without the OS that prints it. Entries
that are not devices are dropped here: incomplete or failed resolutions, all-zero MACs, multicast and
broadcast addresses. Anything unparsable is skipped line by line, never raised: one odd line must not
hide the rest of the table.
"""

from __future__ import annotations

import re

from agent.discovery.addresses import normalise_ip, normalise_mac
from agent.discovery.decoding import json_objects, text_field
from agent.discovery.sightings import Sighting

# /proc/net/arp flags: ATF_COM (0x2) means the MAC is resolved; 0x0 is an incomplete entry.
_ATF_COM = 0x2
# `ip neigh` states that are not a device answering (see ip-neighbour(8)).
_DEAD_STATES = {"FAILED", "INCOMPLETE", "NONE"}
# MSFT_NetNeighbor.State: ConvertTo-Json writes the enum as its number (strings with -EnumsAsStrings).
_WINDOWS_STATES = {0: "Unreachable", 1: "Incomplete", 2: "Probe", 3: "Delay", 4: "Stale", 5: "Reachable",
                   6: "Permanent"}
_WINDOWS_DEAD = {"Unreachable", "Incomplete"}
_MAC_ARP = re.compile(r"^\S+\s+\((?P<ip>[^)]+)\)\s+at\s+(?P<mac>\S+)(?:\s+\[\w+\])?\s+on\s+(?P<dev>\S+)")


def parse_proc_arp(text: str) -> list[Sighting]:
    """``/proc/net/arp``: a header line, then ``IP HWtype Flags HWaddress Mask Device``."""
    found = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 6:
            continue
        try:
            flags = int(fields[2], 16)
        except ValueError:
            continue
        ip, mac = normalise_ip(fields[0]), normalise_mac(fields[3])
        if not flags & _ATF_COM or ip is None or mac is None:
            continue
        found.append(Sighting(ip=ip, mac=mac, interface=fields[5]))
    return found


def parse_ip_neigh_json(text: str) -> list[Sighting]:
    """``ip -j neigh show``: ``[{"dst", "dev", "lladdr", "state": [...]}, ...]``, IPv4 and IPv6."""
    found = []
    for entry in json_objects(text):
        states = entry.get("state") or []
        if isinstance(states, str):
            states = [states]
        if any(str(state).upper() in _DEAD_STATES for state in states):
            continue
        ip, mac = normalise_ip(text_field(entry.get("dst"))), normalise_mac(text_field(entry.get("lladdr")))
        if ip is None or mac is None:
            continue
        found.append(Sighting(ip=ip, mac=mac, interface=text_field(entry.get("dev"))))
    return found


def parse_windows_neighbours(text: str) -> list[Sighting]:
    """``Get-NetNeighbor | ConvertTo-Json``: one object, or a list of them (PowerShell unwraps a list of one)."""
    found = []
    for entry in json_objects(text):
        state = entry.get("State")
        state_name = _WINDOWS_STATES.get(state, "") if isinstance(state, int) else text_field(state)
        if state_name in _WINDOWS_DEAD:
            continue
        ip = normalise_ip(text_field(entry.get("IPAddress")))
        mac = normalise_mac(text_field(entry.get("LinkLayerAddress")))
        if ip is None or mac is None:
            continue
        found.append(Sighting(ip=ip, mac=mac, interface=text_field(entry.get("InterfaceAlias"))))
    return found


def parse_macos_arp(text: str) -> list[Sighting]:
    """``arp -an``: ``? (192.168.1.1) at 0:1b:63:a:b:c on en0 ifscope [ethernet]``; ``(incomplete)`` skipped."""
    found = []
    for line in text.splitlines():
        match = _MAC_ARP.match(line.strip())
        if not match:
            continue
        ip, mac = normalise_ip(match["ip"]), normalise_mac(match["mac"])
        if ip is None or mac is None:
            continue
        found.append(Sighting(ip=ip, mac=mac, interface=match["dev"]))
    return found

