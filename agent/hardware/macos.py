"""The hardware section on macOS: one system_profiler run, parsed by a pure function.

:data:`ARGV` asks for every data type at once (system_profiler starts slowly; one run is cheaper
than eight). :func:`parse_macos` turns its JSON into the wire model without I/O and is tested against
recorded outputs. system_profiler prints sizes and speeds for people ("16 GB", "500.28 GB",
"2,6 GHz" in a French locale); :mod:`agent.hardware.values` turns them into numbers. Memory sizes
are binary (a "16 GB" Mac has 16 GiB), storage sizes decimal, as Finder counts them.

USB devices are listed by SPUSBDataType up to macOS 15 and by SPUSBHostDataType from macOS 26, with
different key names (``vendor_id`` vs ``USBDeviceKeyVendorID``); both are asked for and both read.
The boot time, the sessions and the install date come from psutil and the file system, because
system_profiler only has an uptime (which would change the section on every run) and no install date.
"""

from __future__ import annotations

import json
import logging
import platform
import re
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from agent.hardware import portable
from agent.hardware.commands import run_command
from agent.hardware.gathering import gather
from agent.hardware.values import build, byte_count, count, floor_gib, frequency_mhz, record, records, size, text, when
from schemas.inventory import (
    CpuInfo,
    Disk,
    Display,
    HardwareInventory,
    MemoryInfo,
    MemoryModule,
    NetworkInterface,
    OsInfo,
    Peripheral,
    SystemInfo,
    UserSession,
    Volume,
)

log = logging.getLogger(__name__)

DATA_TYPES = ("SPHardwareDataType", "SPMemoryDataType", "SPStorageDataType", "SPNVMeDataType", "SPUSBDataType",
              "SPUSBHostDataType", "SPDisplaysDataType", "SPNetworkDataType", "SPSoftwareDataType")
# "basic", not "mini": mini is faster but leaves out what Apple counts as identifying (serial
# numbers, UUIDs), and asset tracking and warranty lookups need exactly those. "full" adds
# per-item detail (every USB descriptor, display EDIDs) that costs seconds and is not used.
DETAIL_LEVEL = "basic"
ARGV = ("system_profiler", "-json", "-detailLevel", DETAIL_LEVEL, *DATA_TYPES)
TIMEOUT_SECONDS = 180.0
MAX_OUTPUT_BYTES = 16 * 1024 * 1024
MAX_USB_DEPTH = 16
# Written by Setup Assistant when the first user finishes setting up the Mac: the install date.
SETUP_DONE = Path("/var/db/.AppleSetupDone")

_OS_VERSION = re.compile(r"^(.*?)\s+([0-9][0-9.]*)\s*(?:\((\w+)\))?$")
_PROC_COUNTS = re.compile(r"^proc\s+(\d+)(?::\d+)*$")
_PIXELS = re.compile(r"(\d{2,5})\s*x\s*(\d{2,5})")
_HEX_ID = re.compile(r"^0x([0-9a-fA-F]{1,4})\b")
_CHASSIS = (("MacBook", "Notebook"), ("iMac", "All in One"), ("Mac mini", "Mini PC"), ("Mac Pro", "Tower"),
            ("Mac Studio", "Desktop"))


def _field(item: Mapping[str, Any], *keys: str) -> str:
    for key in keys:
        value = text(item.get(key))
        if value:
            return value
    return ""


def _overview(data: Mapping[str, Any], data_type: str) -> Mapping[str, Any]:
    return record(data.get(data_type))


def system(data: Mapping[str, Any]) -> SystemInfo:
    hardware = _overview(data, "SPHardwareDataType")
    name = _field(hardware, "machine_name")
    chassis = next((kind for prefix, kind in _CHASSIS if name.startswith(prefix)), "")
    info = build(SystemInfo, "system identity", manufacturer="Apple Inc.",
                 model=_field(hardware, "machine_model") or name, serial=_field(hardware, "serial_number"),
                 uuid=_field(hardware, "platform_UUID").lower(), chassis=chassis, sku=_field(hardware, "model_number"),
                 bios_vendor="Apple Inc." if hardware else "", bios_version=_field(hardware, "boot_rom_version"))
    return info or SystemInfo()


def cpus(data: Mapping[str, Any]) -> list[CpuInfo]:
    """Apple silicon: ``number_processors`` is "proc total:performance:efficiency"; Intel: a core count."""
    hardware = _overview(data, "SPHardwareDataType")
    model = _field(hardware, "chip_type", "cpu_type")
    if not hardware:
        return []
    processors = hardware.get("number_processors")
    match = _PROC_COUNTS.match(processors) if isinstance(processors, str) else None
    cores = count(match.group(1) if match else processors, what="processor count")
    threads = cores * 2 if hardware.get("platform_cpu_htt") == "htt_enabled" else cores
    vendor = "Apple" if model.startswith("Apple") else ("Intel" if "Intel" in model else "")
    sockets = count(hardware.get("packages"), what="packages") or 1
    cpu = build(CpuInfo, "cpu", model=model, vendor=vendor, sockets=sockets, cores=cores,
                threads=min(threads, 1_000_000),
                frequency_mhz=frequency_mhz(hardware.get("current_processor_speed"), what="cpu frequency"))
    return [cpu] if cpu is not None else []


def memory(data: Mapping[str, Any]) -> MemoryInfo:
    """Intel Macs list DIMM slots under ``_items``; Apple silicon has one unified-memory entry."""
    modules: list[MemoryModule] = []
    for entry in records(data.get("SPMemoryDataType")):
        slots = records(entry.get("_items"))
        if not slots and entry.get("SPMemoryDataType"):
            slots = [{"dimm_size": entry.get("SPMemoryDataType"), **entry}]
        for slot in slots[:256]:
            bytes_ = size(slot.get("dimm_size"), what="module size", base=1024)
            if not bytes_:  # "empty" slots
                continue
            module = build(MemoryModule, "memory module", slot=_field(slot, "_name"),
                           size_bytes=bytes_,
                           speed_mts=int(frequency_mhz(slot.get("dimm_speed"), what="module speed")),
                           type=_field(slot, "dimm_type"), manufacturer=_field(slot, "dimm_manufacturer"),
                           serial=_field(slot, "dimm_serial_number"), part_number=_field(slot, "dimm_part_number"))
            if module is not None:
                modules.append(module)
    total = size(_overview(data, "SPHardwareDataType").get("physical_memory"), what="physical memory", base=1024)
    return MemoryInfo(total_bytes=total, modules=modules[:256])


def disks(data: Mapping[str, Any]) -> list[Disk]:
    """NVMe drives from SPNVMeDataType, then other physical drives named by SPStorageDataType's volumes."""
    found: dict[str, Disk] = {}
    for controller in records(data.get("SPNVMeDataType")):
        for drive in records(controller.get("_items")):
            name = _field(drive, "bsd_name", "_name")
            disk = build(Disk, f"disk {name}", name=name, model=_field(drive, "device_model", "_name"),
                         serial=_field(drive, "device_serial"),
                         size_bytes=byte_count(drive.get("size_in_bytes"), what="disk size")
                         or size(drive.get("size"), what="disk size"),
                         type="removable" if drive.get("removable_media") == "yes" else "nvme", bus="NVMe")
            if disk is not None:
                found[disk.model or disk.name] = disk
    for volume in records(data.get("SPStorageDataType")):
        drive = record(volume.get("physical_drive"))
        model = _field(drive, "device_name", "media_name")
        if not model or model in found:
            continue
        protocol = _field(drive, "protocol")
        kind = {"ssd": "ssd", "rotational": "hdd"}.get(_field(drive, "medium_type").lower(), "unknown")
        if drive.get("is_internal_disk") == "no" or protocol in ("USB", "SD"):
            kind = "removable"
        disk = build(Disk, f"disk {model}", name=model, model=model, type=kind, bus=protocol)
        if disk is not None:
            found[model] = disk
    return list(found.values())


def volumes(data: Mapping[str, Any]) -> list[Volume]:
    found: list[Volume] = []
    for volume in records(data.get("SPStorageDataType")):
        mount = _field(volume, "mount_point")
        if not mount:
            continue
        built = build(Volume, f"volume {mount}", mount=mount, device=_field(volume, "bsd_name"),
                      filesystem=_field(volume, "file_system"),
                      size_bytes=byte_count(volume.get("size_in_bytes"), what="volume size"),
                      free_bytes=floor_gib(byte_count(volume.get("free_space_in_bytes"), what="free space")))
        if built is not None:
            found.append(built)
    return found


def _mac_address(service: Mapping[str, Any]) -> str:
    for value in service.values():
        if isinstance(value, Mapping) and isinstance(value.get("MAC Address"), str):
            return str(value["MAC Address"]).lower()
    return ""


def _addresses(service: Mapping[str, Any], family: str) -> list[str]:
    listed = record(service.get(family)).get("Addresses")
    return sorted({text(address) for address in listed[:64] if text(address)}) if isinstance(listed, list) else []


def interfaces(data: Mapping[str, Any]) -> list[NetworkInterface]:
    """Network services from SPNetworkDataType, named by their BSD interface (en0), as psutil names them."""
    found: list[NetworkInterface] = []
    for service in records(data.get("SPNetworkDataType")):
        name = _field(service, "interface", "_name")
        ipv4 = _addresses(service, "IPv4")
        ipv6 = _addresses(service, "IPv6")
        built = build(NetworkInterface, f"interface {name}", name=name, mac=_mac_address(service), ipv4=ipv4,
                      ipv6=ipv6, up=bool(ipv4 or ipv6))
        if built is not None:
            found.append(built)
    return found


def displays(data: Mapping[str, Any]) -> list[Display]:
    found: list[Display] = []
    for gpu in records(data.get("SPDisplaysDataType")):
        for screen in records(gpu.get("spdisplays_ndrvs")):
            pixels = _PIXELS.search(_field(screen, "_spdisplays_pixels", "spdisplays_pixels",
                                           "_spdisplays_resolution", "spdisplays_resolution"))
            vendor = _field(screen, "_spdisplays_display-vendor-id")
            built = build(Display, "display", name=_field(screen, "_name"),
                          manufacturer="Apple" if vendor in ("610", "0x610") else vendor,
                          model=_field(screen, "_spdisplays_display-product-id", "_name"),
                          serial=_field(screen, "_spdisplays_display-serial-number"),
                          width=int(pixels.group(1)) if pixels else 0, height=int(pixels.group(2)) if pixels else 0)
            if built is not None:
                found.append(built)
    return found


def _usb_nodes(items: object, depth: int = 0) -> Iterator[Mapping[str, Any]]:
    if depth > MAX_USB_DEPTH:
        return
    for item in records(items):
        yield item
        yield from _usb_nodes(item.get("_items"), depth + 1)


def _hex_id(value: str) -> str:
    match = _HEX_ID.match(value)
    return f"{int(match.group(1), 16):04x}" if match else ""


def peripherals(data: Mapping[str, Any]) -> list[Peripheral]:
    """USB devices (not buses or hubs' controllers), from the old and the new USB data types."""
    found: list[Peripheral] = []
    for data_type in ("SPUSBDataType", "SPUSBHostDataType"):
        for bus in records(data.get(data_type)):
            for node in _usb_nodes(bus.get("_items")):
                vendor_id = _hex_id(_field(node, "USBDeviceKeyVendorID", "vendor_id"))
                if not vendor_id:
                    continue
                vendor_name = _field(node, "USBDeviceKeyVendorName", "manufacturer")
                serial = _field(node, "USBDeviceKeySerialNumber", "serial_num")
                built = build(Peripheral, "USB device", bus="usb", vendor_id=vendor_id,
                              product_id=_hex_id(_field(node, "USBDeviceKeyProductID", "product_id")),
                              vendor=vendor_name, product=_field(node, "_name"),
                              serial="" if serial == "Not Provided" else serial)
                if built is not None:
                    found.append(built)
    return found


def os_info(data: Mapping[str, Any]) -> OsInfo:
    """``os_version`` is "macOS 14.4.1 (23E224)": name, version and build."""
    software = _overview(data, "SPSoftwareDataType")
    match = _OS_VERSION.match(_field(software, "os_version"))
    hardware = _overview(data, "SPHardwareDataType")
    arch = "arm64" if _field(hardware, "chip_type") else ("x86_64" if "Intel" in _field(hardware, "cpu_type") else "")
    info = build(OsInfo, "OS", name=match.group(1) if match else _field(software, "os_version"),
                 version=match.group(2) if match else "", build=(match.group(3) or "") if match else "",
                 kernel=_field(software, "kernel_version"), arch=arch)
    return info or OsInfo()


def users(data: Mapping[str, Any]) -> list[UserSession]:
    """The user system_profiler ran for: "Full Name (account)" (absent at the "mini" level)."""
    user_name = _field(_overview(data, "SPSoftwareDataType"), "user_name")
    account = user_name.rsplit("(", 1)[-1].rstrip(")").strip() if user_name else ""
    user = build(UserSession, "user", name=account, terminal="console") if account else None
    return [user] if user else []


def parse_macos(data: object) -> HardwareInventory:
    """The hardware section from system_profiler's JSON; missing or malformed data types stay empty."""
    if not isinstance(data, Mapping):
        log.warning("system_profiler printed %s, not a JSON object; no hardware section", type(data).__name__)
        return HardwareInventory()
    return gather({
        "system": lambda: system(data),
        "cpus": lambda: cpus(data),
        "memory": lambda: memory(data),
        "disks": lambda: disks(data),
        "volumes": lambda: volumes(data),
        "interfaces": lambda: interfaces(data),
        "displays": lambda: displays(data),
        "peripherals": lambda: peripherals(data),
        "os": lambda: os_info(data),
        "users": lambda: users(data),
    })


def install_date(marker: Path = SETUP_DONE) -> datetime | None:
    try:
        return when(int(marker.stat().st_mtime), what="install date")
    except OSError:
        return None


def collect_macos(search_path: str | None = None, setup_marker: Path = SETUP_DONE) -> HardwareInventory:
    """Run system_profiler once and parse it; boot time, sessions and install date come from the OS."""
    output = run_command(ARGV, what="hardware inventory", timeout=TIMEOUT_SECONDS, max_bytes=MAX_OUTPUT_BYTES,
                         search_path=search_path)
    if output is None:
        return HardwareInventory()
    try:
        data = json.loads(output)
    except ValueError as exc:
        log.warning("system_profiler printed invalid JSON (%s); no hardware section", exc)
        return HardwareInventory()
    inventory = parse_macos(data)
    os_update = {"install_date": install_date(setup_marker), "last_boot": portable.boot_time(),
                 "arch": inventory.os.arch or platform.machine()}
    update: dict[str, Any] = {"os": inventory.os.model_copy(update=os_update)}
    sessions = portable.users()
    if sessions:
        update["users"] = sessions
    return inventory.model_copy(update=update)
