"""Collectors for agent tests that must not read the machine: fixed facts, every other section empty."""

from __future__ import annotations

from agent.inventory import Collectors
from schemas.inventory import HardwareInventory
from schemas.protocol import Facts

FACTS = Facts(hostname="pc-1", os="linux", os_version="Debian 12", arch="x86_64")


def quiet(facts: Facts = FACTS) -> Collectors:
    return Collectors(facts=lambda: facts, software=lambda _effort: [], hardware=HardwareInventory,
                      licenses=list, network=lambda _settings: [])
