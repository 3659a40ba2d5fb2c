"""Which devices a vendor can be asked about: manufacturer to vendor, and serials worth asking.

Firmware fills the serial field with placeholders when the board maker did not
("To Be Filled By O.E.M.", "Default string", "0"); asking a vendor about those wastes a
call and can match somebody else's machine. Manufacturer strings vary by model year and
BIOS ("Dell Inc.", "LENOVO", "HP", "Hewlett-Packard"), so matching is by prefix on a
normalised name. Devices of other makers are skipped: manual ``Warranty`` records cover them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

PLACEHOLDERS = frozenset({
    "", "0", "00000000", "000000000000", "none", "n/a", "na", "null", "unknown", "default string",
    "to be filled by o.e.m.", "to be filled by oem", "system serial number", "serial number",
    "chassis serial number", "not specified", "not applicable", "invalid", "123456789", "1234567890",
    "o.e.m.", "oem", "xxxxxxxxxx", "base board serial number",
})
_SERIAL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{2,99}$")

VENDOR_PREFIXES: dict[str, tuple[str, ...]] = {
    "dell": ("dell",),
    "lenovo": ("lenovo",),
    "hp": ("hp", "hewlett-packard", "hewlett packard"),
}


def plausible_serial(serial: str) -> bool:
    """False for placeholders, all-zero strings and anything with characters no vendor uses in a serial."""
    value = serial.strip()
    if value.lower() in PLACEHOLDERS or not _SERIAL.match(value):
        return False
    return bool(value.strip("0._/-"))


def vendor_of(manufacturer: str) -> str | None:
    """'dell', 'lenovo' or 'hp' for a manufacturer string as firmware reports it; None for any other."""
    name = " ".join(manufacturer.lower().replace(",", " ").split())
    for vendor, prefixes in VENDOR_PREFIXES.items():
        for prefix in prefixes:
            if name == prefix or name.startswith(prefix + " ") or name.startswith(prefix + "."):
                return vendor
    if name.startswith("hewlett-packard") or name.startswith("hewlett packard"):
        return "hp"
    return None


def chunks(serials: Sequence[str], size: int) -> list[list[str]]:
    """``serials`` in batches of at most ``size``."""
    return [list(serials[i:i + size]) for i in range(0, len(serials), max(1, size))]
