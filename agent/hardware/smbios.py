"""Memory modules from the SMBIOS tables Linux exposes in /sys/firmware/dmi/entries.

Only root can read the raw entries (the agent runs as a service, so as root); as another user the
module list stays empty and the total from psutil stands alone. Type 17 "Memory Device" layout per
DMTF DSP0134 7.18: size at 0x0C (MB, or KB when bit 15 is set; 0x7FFF means "see the extended size
at 0x1C"), locator string at 0x10, memory type at 0x12, speed at 0x15 (MT/s), manufacturer, serial
and part-number strings at 0x17, 0x18 and 0x1A. Strings follow the formatted area, 1-based, each
NUL-terminated.
"""

from __future__ import annotations

import logging
from pathlib import Path

from agent.hardware.sysfs import PLACEHOLDERS, listing, read_attribute
from agent.hardware.values import build
from schemas.inventory import MemoryModule

log = logging.getLogger(__name__)

MEMORY_DEVICE = 17
MAX_ENTRY_BYTES = 4096
MEMORY_TYPES = {0x07: "RAM", 0x0F: "SDRAM", 0x12: "DDR", 0x13: "DDR2", 0x18: "DDR3", 0x1A: "DDR4",
                0x1B: "LPDDR", 0x1C: "LPDDR2", 0x1D: "LPDDR3", 0x1E: "LPDDR4", 0x20: "HBM", 0x21: "HBM2",
                0x22: "DDR5", 0x23: "LPDDR5", 0x24: "HBM3"}
MIB = 1024 * 1024


def _word(raw: bytes, offset: int) -> int | None:
    return int.from_bytes(raw[offset:offset + 2], "little") if len(raw) >= offset + 2 else None


def _strings(raw: bytes, length: int) -> list[str]:
    tail = raw[length:].split(b"\x00\x00", 1)[0]
    return [part.decode("ascii", "replace").strip() for part in tail.split(b"\x00")]


def _string(raw: bytes, offset: int, strings: list[str]) -> str:
    if offset >= raw[1]:
        return ""
    index = raw[offset]
    value = strings[index - 1] if 1 <= index <= len(strings) else ""
    return "" if value.lower() in PLACEHOLDERS or value.lower() in {"unknown", "[empty]"} else value


def _size_bytes(raw: bytes) -> int:
    size = _word(raw, 0x0C)
    if size in (None, 0, 0xFFFF):
        return 0
    assert size is not None
    if size == 0x7FFF and raw[1] >= 0x20:
        return (int.from_bytes(raw[0x1C:0x20], "little") & 0x7FFFFFFF) * MIB
    return (size & 0x7FFF) * (1024 if size & 0x8000 else MIB)


def parse_memory_device(raw: bytes) -> MemoryModule | None:
    """A populated memory slot from one raw type-17 structure; None for an empty slot or junk."""
    if len(raw) < 0x15 or raw[0] != MEMORY_DEVICE or raw[1] < 0x15 or raw[1] > len(raw):
        return None
    size = _size_bytes(raw)
    if not size:
        return None
    strings = _strings(raw, raw[1])
    speed = _word(raw, 0x15) if raw[1] >= 0x17 else 0
    return build(MemoryModule, "a memory module",
                 slot=_string(raw, 0x10, strings), size_bytes=size,
                 speed_mts=speed if speed and speed != 0xFFFF else 0,
                 type=MEMORY_TYPES.get(raw[0x12], ""),
                 manufacturer=_string(raw, 0x17, strings), serial=_string(raw, 0x18, strings),
                 part_number=_string(raw, 0x1A, strings))


def memory_modules(root: Path) -> list[MemoryModule]:
    """The populated memory slots, [] when the tables are absent or not readable by this user."""
    found: list[MemoryModule] = []
    for entry in listing(root / "sys/firmware/dmi/entries"):
        if not entry.name.startswith(f"{MEMORY_DEVICE}-"):
            continue
        raw = read_attribute(entry / "raw", binary=True, limit=MAX_ENTRY_BYTES)
        if isinstance(raw, bytes) and (module := parse_memory_device(raw)) is not None:
            found.append(module)
    return found
