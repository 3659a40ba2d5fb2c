"""What Linux's sysfs tells about the machine: DMI identity, block devices, USB devices, displays.

Every path is taken relative to ``root`` so tests run the same code against a fake tree built in a
temporary folder. Each attribute is read on its own: some are root-only (``product_serial``,
``product_uuid``) and a PermissionError on one must not lose the others. Reads are capped, since a
sysfs file can be anything a driver chooses to print.
"""

from __future__ import annotations

import logging
from pathlib import Path

from agent.hardware.edid import parse_edid
from agent.hardware.values import build, byte_count
from schemas.inventory import Disk, Display, Peripheral, SystemInfo

log = logging.getLogger(__name__)

MAX_ATTRIBUTE_BYTES = 4096
MAX_EDID_BYTES = 32 * 1024
MAX_ENTRIES = 4096
SECTOR_BYTES = 512  # /sys/block/*/size counts 512-byte sectors whatever the device's real sector size

# Block devices that are not hardware: loop files, RAM disks, compressed swap, device-mapper and
# software RAID volumes (their members are listed in their own right), network block devices.
VIRTUAL_BLOCK_PREFIXES = ("loop", "ram", "zram", "dm-", "md", "nbd")

# SMBIOS chassis types (DMTF DSP0134, 7.4.1), as sysfs prints them: a decimal number.
CHASSIS_TYPES = {
    1: "Other", 2: "Unknown", 3: "Desktop", 4: "Low Profile Desktop", 5: "Pizza Box", 6: "Mini Tower",
    7: "Tower", 8: "Portable", 9: "Laptop", 10: "Notebook", 11: "Hand Held", 12: "Docking Station",
    13: "All in One", 14: "Sub Notebook", 15: "Space-saving", 16: "Lunch Box", 17: "Main Server Chassis",
    18: "Expansion Chassis", 19: "SubChassis", 20: "Bus Expansion Chassis", 21: "Peripheral Chassis",
    22: "RAID Chassis", 23: "Rack Mount Chassis", 24: "Sealed-case PC", 25: "Multi-system chassis",
    26: "Compact PCI", 27: "Advanced TCA", 28: "Blade", 29: "Blade Enclosure", 30: "Tablet",
    31: "Convertible", 32: "Detachable", 33: "IoT Gateway", 34: "Embedded PC", 35: "Mini PC", 36: "Stick PC",
}

# Firmware placeholders that mean "the vendor did not fill this in".
PLACEHOLDERS = {"to be filled by o.e.m.", "default string", "system serial number", "not specified",
                "not applicable", "none", "0", "0123456789", "system product name", "system manufacturer",
                "03000200-0400-0500-0006-000700080009", "00000000-0000-0000-0000-000000000000"}


def read_attribute(path: Path, *, binary: bool = False, limit: int = MAX_ATTRIBUTE_BYTES) -> str | bytes | None:
    """The file's content (stripped text, or raw bytes), or None when it is absent or unreadable."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(limit)
    except PermissionError:
        log.debug("%s is not readable by this user", path)
        return None
    except OSError:
        return None
    return raw if binary else raw.decode("utf-8", "replace").strip()


def attribute(path: Path) -> str:
    """A text attribute, "" when absent or unreadable."""
    value = read_attribute(path)
    return value if isinstance(value, str) else ""


def firmware_text(path: Path) -> str:
    """A DMI string, "" when absent, unreadable or a vendor placeholder."""
    value = attribute(path)
    return "" if value.lower() in PLACEHOLDERS else value


def listing(folder: Path) -> list[Path]:
    """The entries of a sysfs folder in name order (capped), [] when it does not exist."""
    try:
        entries = sorted(folder.iterdir())
    except OSError:
        return []
    return entries[:MAX_ENTRIES]


def system_info(root: Path) -> SystemInfo:
    """Identity from /sys/class/dmi/id; serial and UUID only when the agent runs as root."""
    dmi = root / "sys/class/dmi/id"
    chassis_code = attribute(dmi / "chassis_type")
    chassis = CHASSIS_TYPES.get(int(chassis_code), "") if chassis_code.isdecimal() and len(chassis_code) < 4 else ""
    info = build(
        SystemInfo, "DMI identity",
        manufacturer=firmware_text(dmi / "sys_vendor"),
        model=firmware_text(dmi / "product_name") or firmware_text(dmi / "product_version"),
        serial=firmware_text(dmi / "product_serial") or firmware_text(dmi / "chassis_serial"),
        uuid=firmware_text(dmi / "product_uuid").lower(),
        chassis=chassis,
        sku=firmware_text(dmi / "product_sku"),
        bios_vendor=firmware_text(dmi / "bios_vendor"),
        bios_version=firmware_text(dmi / "bios_version"),
        bios_date=firmware_text(dmi / "bios_date"),
    )
    return info or SystemInfo()


def _disk_type(name: str, device: Path) -> str:
    if name.startswith(VIRTUAL_BLOCK_PREFIXES):
        return "virtual"
    if name.startswith("nvme"):
        return "nvme"
    if attribute(device / "removable") == "1":
        return "removable"
    rotational = attribute(device / "queue/rotational")
    return {"1": "hdd", "0": "ssd"}.get(rotational, "unknown")


def _bus(device: Path) -> str:
    try:
        subsystem = (device / "device/subsystem").resolve(strict=True).name
    except OSError:
        return ""
    return subsystem if subsystem in {"scsi", "nvme", "virtio", "mmc", "usb", "ata", "xen"} else ""


def disks(root: Path) -> list[Disk]:
    """Physical block devices from /sys/block; partitions live under their disk and are not listed.

    Virtual devices (loop, ram, zram, device-mapper, md) are skipped: they are volumes or files,
    not hardware, and a machine with snaps has dozens of loop devices.
    """
    found: list[Disk] = []
    for device in listing(root / "sys/block"):
        name = device.name
        kind = _disk_type(name, device)
        if kind == "virtual":
            continue
        sectors = byte_count(attribute(device / "size"), what=f"{name} size")
        model = attribute(device / "device/model") or attribute(device / "model")
        serial = (attribute(device / "device/serial") or attribute(device / "serial")
                  or attribute(device / "device/wwid") or attribute(device / "wwid"))
        disk = build(Disk, f"disk {name}", name=name, model=model, serial=serial,
                     size_bytes=min(sectors * SECTOR_BYTES, 2**62), type=kind, bus=_bus(device))
        if disk is not None:
            found.append(disk)
    return found


def peripherals(root: Path) -> list[Peripheral]:
    """USB devices from /sys/bus/usb/devices: each device, not its interfaces ("1-1:1.0")."""
    found: list[Peripheral] = []
    for device in listing(root / "sys/bus/usb/devices"):
        if ":" in device.name:
            continue
        vendor_id = attribute(device / "idVendor").lower()
        product_id = attribute(device / "idProduct").lower()
        if not vendor_id and not product_id:
            continue
        peripheral = build(Peripheral, f"USB device {device.name}", bus="usb", vendor_id=vendor_id,
                           product_id=product_id, vendor=attribute(device / "manufacturer"),
                           product=attribute(device / "product"), serial=attribute(device / "serial"))
        if peripheral is not None:
            found.append(peripheral)
    return found


def displays(root: Path) -> list[Display]:
    """Connected monitors from /sys/class/drm/*/edid; [] on a machine without DRM (a server, a VM)."""
    found: list[Display] = []
    for connector in listing(root / "sys/class/drm"):
        if attribute(connector / "status") not in ("connected", ""):
            continue
        raw = read_attribute(connector / "edid", binary=True, limit=MAX_EDID_BYTES)
        if not isinstance(raw, bytes) or not raw:
            continue
        display = parse_edid(raw, name=connector.name)
        if display is not None:
            found.append(display)
    return found
