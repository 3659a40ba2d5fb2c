"""The hardware section on Windows: one PowerShell run of Get-CimInstance, parsed by a pure function.

:data:`SCRIPT` asks CIM for every class at once and prints one JSON object, so the agent starts
PowerShell once per inventory (starting it costs more than all the queries). :func:`parse_windows`
turns that object into the wire model without I/O, and is tested against recorded outputs.

ConvertTo-Json quirks the parser absorbs: a class with one instance comes as a bare object, not a
one-element list; dates come as ``"/Date(1700000000000)/"`` strings, as ``{"value": ..., "DateTime":
...}`` objects (Windows PowerShell 5.1) or as ISO strings (PowerShell 7); uint64 sizes sometimes
come as strings; WmiMonitorID's names are arrays of UTF-16 code units padded with zeros.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from typing import Any

from agent.hardware import portable
from agent.hardware.commands import run_command
from agent.hardware.gathering import gather
from agent.hardware.smbios import MEMORY_TYPES
from agent.hardware.sysfs import CHASSIS_TYPES, PLACEHOLDERS
from agent.hardware.values import (
    build,
    byte_count,
    count,
    floor_gib,
    frequency_mhz,
    record,
    records,
    text,
    when,
)
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

TIMEOUT_SECONDS = 120.0
MAX_OUTPUT_BYTES = 8 * 1024 * 1024

# Single quotes only: the script travels as one command-line argument, where double quotes would
# need Windows' backslash escaping. Each query fails alone (SilentlyContinue) and leaves its key null;
# a line ending in a comma continues the property list.
SCRIPT = r"""
$ErrorActionPreference = 'SilentlyContinue'
$ProgressPreference = 'SilentlyContinue'
[Console]::OutputEncoding = [System.Text.Encoding]::UTF8
function Cim($Class, $Properties, $Namespace = 'root/cimv2', $Filter = $null) {
  $query = @{ Namespace = $Namespace; ClassName = $Class; ErrorAction = 'SilentlyContinue' }
  if ($Filter) { $query.Filter = $Filter }
  Get-CimInstance @query | Select-Object -Property $Properties
}
[ordered]@{
  ComputerSystem = Cim Win32_ComputerSystem Manufacturer, Model, SystemSKUNumber, TotalPhysicalMemory, UserName
  ComputerSystemProduct = Cim Win32_ComputerSystemProduct IdentifyingNumber, UUID
  BIOS = Cim Win32_BIOS Manufacturer, SMBIOSBIOSVersion, ReleaseDate, SerialNumber
  SystemEnclosure = Cim Win32_SystemEnclosure ChassisTypes, SerialNumber
  Processor = Cim Win32_Processor Name, Manufacturer, NumberOfCores, NumberOfLogicalProcessors,
    MaxClockSpeed, SocketDesignation
  PhysicalMemory = Cim Win32_PhysicalMemory DeviceLocator, BankLabel, Capacity, Speed, ConfiguredClockSpeed,
    SMBIOSMemoryType, Manufacturer, SerialNumber, PartNumber
  DiskDrive = Cim Win32_DiskDrive Index, DeviceID, Model, SerialNumber, Size, MediaType, InterfaceType
  PhysicalDisk = Cim MSFT_PhysicalDisk DeviceId, MediaType, BusType 'root/Microsoft/Windows/Storage'
  LogicalDisk = Cim Win32_LogicalDisk DeviceID, VolumeName, FileSystem, Size, FreeSpace, DriveType
  NetworkAdapter = Cim Win32_NetworkAdapter Index, NetConnectionID, Name, MACAddress, Speed,
    NetEnabled 'root/cimv2' 'PhysicalAdapter = TRUE'
  NetworkAdapterConfiguration = Cim Win32_NetworkAdapterConfiguration Index, IPAddress 'root/cimv2' 'IPEnabled = TRUE'
  MonitorID = Cim WmiMonitorID InstanceName, ManufacturerName, UserFriendlyName, SerialNumberID 'root/wmi'
  DesktopMonitor = Cim Win32_DesktopMonitor Name, MonitorManufacturer, ScreenWidth, ScreenHeight, PNPDeviceID
  PnPEntity = Cim Win32_PnPEntity Name, Manufacturer, PNPDeviceID 'root/cimv2' 'PNPDeviceID LIKE ''USB\\VID_%'''
  OperatingSystem = Cim Win32_OperatingSystem Caption, Version, BuildNumber, OSArchitecture, InstallDate, LastBootUpTime
} | ConvertTo-Json -Depth 4 -Compress
"""

ARGV = ("powershell", "-NoProfile", "-NonInteractive", "-Command", SCRIPT)

_USB_ID = re.compile(r"^USB\\VID_([0-9A-Fa-f]{4})&PID_([0-9A-Fa-f]{4})(&[^\\]*)?\\(.*)$")
_VENDORS = {"GenuineIntel": "Intel", "AuthenticAMD": "AMD", "Qualcomm Technologies Inc": "Qualcomm"}
# MSFT_PhysicalDisk: MediaType 3 HDD, 4 SSD; BusType 7 USB, 17 NVMe (Storage Management API docs).
_MEDIA = {3: "hdd", 4: "ssd"}
_BUSES = {1: "SCSI", 3: "ATA", 6: "Fibre Channel", 7: "USB", 8: "RAID", 10: "SAS", 11: "SATA", 12: "SD",
          13: "MMC", 15: "File Backed Virtual", 16: "Storage Spaces", 17: "NVMe"}
_LOCAL_DRIVE_TYPES = {2, 3}  # removable and local disks; network shares and empty CD drives are not volumes
_BITS_PER_MBIT = 1_000_000


def _field(item: Mapping[str, Any], key: str) -> str:
    value = text(item.get(key))
    return "" if value.lower() in PLACEHOLDERS else value


def _code_units(value: object) -> str:
    """WmiMonitorID strings: a list of UTF-16 code units, zero-padded."""
    if isinstance(value, str):
        return value.strip()
    if not isinstance(value, list):
        return ""
    units = [unit for unit in value[:128] if isinstance(unit, int) and 0 < unit < 0xD800]
    decoded = "".join(chr(unit) for unit in units).strip()
    return "" if decoded.lower() in PLACEHOLDERS else decoded


def system(data: Mapping[str, Any]) -> SystemInfo:
    computer = record(data.get("ComputerSystem"))
    product = record(data.get("ComputerSystemProduct"))
    bios = record(data.get("BIOS"))
    enclosure = record(data.get("SystemEnclosure"))
    chassis_types = enclosure.get("ChassisTypes")
    chassis_code = chassis_types[0] if isinstance(chassis_types, list) and chassis_types else chassis_types
    released = when(bios.get("ReleaseDate"), what="BIOS release date")
    info = build(
        SystemInfo, "system identity",
        manufacturer=_field(computer, "Manufacturer"),
        model=_field(computer, "Model"),
        serial=(_field(bios, "SerialNumber") or _field(product, "IdentifyingNumber")
                or _field(enclosure, "SerialNumber")),
        uuid=_field(product, "UUID").lower(),
        chassis=CHASSIS_TYPES.get(count(chassis_code, what="chassis type", high=255), ""),
        sku=_field(computer, "SystemSKUNumber"),
        bios_vendor=_field(bios, "Manufacturer"),
        bios_version=_field(bios, "SMBIOSBIOSVersion"),
        bios_date=released.date().isoformat() if released else "",
    )
    return info or SystemInfo()


def cpus(data: Mapping[str, Any]) -> list[CpuInfo]:
    """One entry per processor model; Win32_Processor lists one instance per socket."""
    models: dict[str, list[Mapping[str, Any]]] = {}
    for processor in records(data.get("Processor")):
        models.setdefault(_field(processor, "Name"), []).append(processor)
    found: list[CpuInfo] = []
    for name, sockets in models.items():
        vendor = _field(sockets[0], "Manufacturer")
        cpu = build(CpuInfo, f"cpu {name}", model=name, vendor=_VENDORS.get(vendor, vendor), sockets=len(sockets),
                    cores=min(sum(count(s.get("NumberOfCores"), what="cores") for s in sockets), 1_000_000),
                    threads=min(sum(count(s.get("NumberOfLogicalProcessors"), what="threads") for s in sockets),
                                1_000_000),
                    frequency_mhz=frequency_mhz(sockets[0].get("MaxClockSpeed"), what="cpu frequency"))
        if cpu is not None:
            found.append(cpu)
    return found


def memory(data: Mapping[str, Any]) -> MemoryInfo:
    modules: list[MemoryModule] = []
    for module in records(data.get("PhysicalMemory")):
        speed = module.get("ConfiguredClockSpeed") or module.get("Speed")
        built = build(MemoryModule, "memory module",
                      slot=_field(module, "DeviceLocator") or _field(module, "BankLabel"),
                      size_bytes=byte_count(module.get("Capacity"), what="module capacity"),
                      speed_mts=count(speed, what="module speed", high=100_000),
                      type=MEMORY_TYPES.get(count(module.get("SMBIOSMemoryType"), what="memory type"), ""),
                      manufacturer=_field(module, "Manufacturer"), serial=_field(module, "SerialNumber"),
                      part_number=_field(module, "PartNumber"))
        if built is not None:
            modules.append(built)
    total = byte_count(record(data.get("ComputerSystem")).get("TotalPhysicalMemory"), what="total memory")
    return MemoryInfo(total_bytes=total, modules=modules[:256])


def disks(data: Mapping[str, Any]) -> list[Disk]:
    physical = {text(disk.get("DeviceId")): disk for disk in records(data.get("PhysicalDisk"))}
    found: list[Disk] = []
    for drive in records(data.get("DiskDrive")):
        index = text(drive.get("Index"))
        storage = physical.get(index, {})
        bus = _BUSES.get(count(storage.get("BusType"), what="bus type"), "") or _field(drive, "InterfaceType")
        kind = _MEDIA.get(count(storage.get("MediaType"), what="media type"), "unknown")
        if bus == "NVMe":
            kind = "nvme"
        elif bus in ("USB", "SD", "MMC") or "removable" in _field(drive, "MediaType").lower():
            kind = "removable"
        elif bus in ("File Backed Virtual", "Storage Spaces"):
            kind = "virtual"
        built = build(Disk, f"disk {index}", name=_field(drive, "DeviceID") or f"PhysicalDrive{index}",
                      model=_field(drive, "Model"), serial=_field(drive, "SerialNumber"),
                      size_bytes=byte_count(drive.get("Size"), what="disk size"), type=kind, bus=bus)
        if built is not None:
            found.append(built)
    return found


def volumes(data: Mapping[str, Any]) -> list[Volume]:
    found: list[Volume] = []
    for disk in records(data.get("LogicalDisk")):
        if count(disk.get("DriveType"), what="drive type") not in _LOCAL_DRIVE_TYPES:
            continue
        letter = _field(disk, "DeviceID")
        built = build(Volume, f"volume {letter}", mount=f"{letter}\\" if letter.endswith(":") else letter,
                      device=_field(disk, "VolumeName"), filesystem=_field(disk, "FileSystem"),
                      size_bytes=byte_count(disk.get("Size"), what="volume size"),
                      free_bytes=floor_gib(byte_count(disk.get("FreeSpace"), what="free space")))
        if built is not None:
            found.append(built)
    return found


def interfaces(data: Mapping[str, Any]) -> list[NetworkInterface]:
    addresses: dict[str, list[str]] = {}
    for config in records(data.get("NetworkAdapterConfiguration")):
        listed = config.get("IPAddress")
        values = listed if isinstance(listed, list) else [listed]
        addresses[text(config.get("Index"))] = [text(value) for value in values[:128] if text(value)]
    found: list[NetworkInterface] = []
    for adapter in records(data.get("NetworkAdapter")):
        index = text(adapter.get("Index"))
        ips = addresses.get(index, [])
        # Speed is in bit/s; a disconnected adapter reports 2^63-1, which count() drops to 0.
        speed = count(adapter.get("Speed"), what="link speed", high=10**15) // _BITS_PER_MBIT
        built = build(NetworkInterface, f"adapter {index}",
                      name=_field(adapter, "NetConnectionID") or _field(adapter, "Name") or f"adapter {index}",
                      mac=_field(adapter, "MACAddress").lower().replace("-", ":"),
                      ipv4=sorted(ip for ip in ips if ":" not in ip)[:64],
                      ipv6=sorted(ip.split("%", 1)[0] for ip in ips if ":" in ip)[:64],
                      speed_mbps=min(speed, 1_000_000), up=adapter.get("NetEnabled") is True)
        if built is not None:
            found.append(built)
    return found


def displays(data: Mapping[str, Any]) -> list[Display]:
    """Monitors from WmiMonitorID (EDID names and serials), else Win32_DesktopMonitor."""
    found: list[Display] = []
    for monitor in records(data.get("MonitorID")):
        built = build(Display, "monitor", name=_field(monitor, "InstanceName"),
                      manufacturer=_code_units(monitor.get("ManufacturerName")),
                      model=_code_units(monitor.get("UserFriendlyName")),
                      serial=_code_units(monitor.get("SerialNumberID")))
        if built is not None:
            found.append(built)
    if found:
        return found
    for monitor in records(data.get("DesktopMonitor")):
        built = build(Display, "monitor", name=_field(monitor, "PNPDeviceID") or _field(monitor, "Name"),
                      manufacturer=_field(monitor, "MonitorManufacturer"), model=_field(monitor, "Name"),
                      width=count(monitor.get("ScreenWidth"), what="screen width", high=100_000),
                      height=count(monitor.get("ScreenHeight"), what="screen height", high=100_000))
        if built is not None:
            found.append(built)
    return found


def peripherals(data: Mapping[str, Any]) -> list[Peripheral]:
    """USB devices from Win32_PnPEntity; the interfaces of composite devices (``&MI_xx``) are skipped."""
    found: list[Peripheral] = []
    for entity in records(data.get("PnPEntity")):
        match = _USB_ID.match(_field(entity, "PNPDeviceID"))
        if match is None or (match.group(3) or "").upper().startswith("&MI_"):
            continue
        instance = match.group(4)
        # Windows uses the device's own serial as the instance id when it has one; a generated id has "&".
        serial = instance if "&" not in instance else ""
        built = build(Peripheral, "USB device", bus="usb", vendor_id=match.group(1).lower(),
                      product_id=match.group(2).lower(), vendor=_field(entity, "Manufacturer"),
                      product=_field(entity, "Name"), serial=serial)
        if built is not None:
            found.append(built)
    return found


def os_info(data: Mapping[str, Any]) -> OsInfo:
    system_os = record(data.get("OperatingSystem"))
    info = build(OsInfo, "OS", name=_field(system_os, "Caption"), version=_field(system_os, "Version"),
                 build=_field(system_os, "BuildNumber"), kernel=_field(system_os, "Version"),
                 arch=_field(system_os, "OSArchitecture"),
                 install_date=when(system_os.get("InstallDate"), what="install date"),
                 last_boot=when(system_os.get("LastBootUpTime"), what="last boot"))
    return info or OsInfo()


def users(data: Mapping[str, Any]) -> list[UserSession]:
    """The console user CIM knows of (Win32_ComputerSystem.UserName); the collector adds psutil's."""
    name = _field(record(data.get("ComputerSystem")), "UserName")
    user = build(UserSession, "console user", name=name, terminal="console") if name else None
    return [user] if user else []


def parse_windows(data: object) -> HardwareInventory:
    """The hardware section from :data:`SCRIPT`'s JSON; parts that are missing or malformed stay empty."""
    if not isinstance(data, Mapping):
        log.warning("the PowerShell hardware query printed %s, not a JSON object; no hardware section",
                    type(data).__name__)
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


def collect_windows(search_path: str | None = None) -> HardwareInventory:
    """Run :data:`SCRIPT` once and parse it; psutil's sessions replace CIM's single console user."""
    output = run_command(ARGV, what="hardware inventory", timeout=TIMEOUT_SECONDS, max_bytes=MAX_OUTPUT_BYTES,
                         search_path=search_path)
    if output is None:
        return HardwareInventory()
    try:
        data = json.loads(output.lstrip("\ufeff"))
    except ValueError as exc:
        log.warning("the PowerShell hardware query printed invalid JSON (%s); no hardware section", exc)
        return HardwareInventory()
    inventory = parse_windows(data)
    sessions = portable.users()
    return inventory.model_copy(update={"users": sessions}) if sessions else inventory
