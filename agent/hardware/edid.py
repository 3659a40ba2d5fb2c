"""A minimal EDID reader: who made a monitor, which model, its serial and native resolution.

EDID 1.x base block (VESA E-EDID, 128 bytes): bytes 0-7 the fixed header, 8-9 the manufacturer as
three 5-bit letters, 10-11 the product code, 12-15 a numeric serial, 54-125 four 18-byte
descriptors (a detailed timing - the preferred mode - or a text descriptor: 0xFC monitor name,
0xFF serial string). Only what inventory needs is read; extension blocks are ignored.
"""

from __future__ import annotations

import logging

from agent.hardware.values import build
from schemas.inventory import Display

log = logging.getLogger(__name__)

HEADER = bytes([0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00])
BLOCK_BYTES = 128
DESCRIPTOR_OFFSETS = (54, 72, 90, 108)
NAME_TAG = 0xFC
SERIAL_TAG = 0xFF


def _manufacturer(edid: bytes) -> str:
    code = (edid[8] << 8) | edid[9]
    letters = [(code >> shift) & 0x1F for shift in (10, 5, 0)]
    if not all(1 <= letter <= 26 for letter in letters):
        return ""
    return "".join(chr(ord("A") + letter - 1) for letter in letters)


def _descriptor_text(block: bytes) -> str:
    return block[5:18].split(b"\x0a", 1)[0].decode("ascii", "replace").strip()


def parse_edid(edid: bytes, *, name: str = "") -> Display | None:
    """The display an EDID describes, or None when it is not an EDID (wrong header, too short)."""
    if len(edid) < BLOCK_BYTES or edid[:8] != HEADER:
        log.debug("ignoring the EDID of %s: not an EDID 1.x block", name or "a display")
        return None
    model = ""
    serial = ""
    width = height = 0
    for offset in DESCRIPTOR_OFFSETS:
        block = edid[offset:offset + 18]
        if block[0:2] != b"\x00\x00":
            if not width:  # the first detailed timing is the preferred (native) mode
                width = block[2] | ((block[4] & 0xF0) << 4)
                height = block[5] | ((block[7] & 0xF0) << 4)
            continue
        if block[3] == NAME_TAG:
            model = _descriptor_text(block)
        elif block[3] == SERIAL_TAG:
            serial = _descriptor_text(block)
    if not model:
        model = f"{int.from_bytes(edid[10:12], 'little'):04x}"
    if not serial:
        number = int.from_bytes(edid[12:16], "little")
        serial = str(number) if number else ""
    return build(Display, f"display {name}", name=name, manufacturer=_manufacturer(edid), model=model,
                 serial=serial, width=width, height=height)
