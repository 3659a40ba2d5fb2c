"""The ``hardware`` inventory section: what the OS tells about the machine (being written)."""

from __future__ import annotations

from schemas.inventory import HardwareInventory


def collect_hardware() -> HardwareInventory:
    """The machine's hardware now; parts the OS does not tell stay empty."""
    return HardwareInventory()
