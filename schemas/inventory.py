"""Inventory the agent reports beyond facts and software: hardware, licence keys, the network around it.

Wire models (part of the agent protocol). Strings from firmware and the OS are untrusted:
:data:`Text` strips control characters and caps the length instead of rejecting the whole
report, and numbers have bounds so an absurd value is a 422 naming the field.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Field

from schemas.jobs import WireModel
from schemas.monitoring import MonitorSettings

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _clean(value: object) -> object:
    if isinstance(value, str):
        return _CONTROL.sub("", value).strip()[:500]
    return value


Text = Annotated[str, BeforeValidator(_clean), Field(max_length=500)]
"""A string from firmware or the OS: control characters removed, at most 500 characters."""

Bytes = Annotated[int, Field(ge=0, le=2**62)]
Count = Annotated[int, Field(ge=0, le=1_000_000)]


def _mac(value: str) -> str:
    digits = re.sub(r"[^0-9a-fA-F]", "", value)
    if len(digits) != 12:
        raise ValueError(f"not a MAC address: {value!r}")
    return ":".join(digits[i:i + 2] for i in range(0, 12, 2)).lower()


def _ip(value: str) -> str:
    return str(ipaddress.ip_address(value))


MacAddress = Annotated[str, Field(max_length=40), AfterValidator(_mac)]
IpAddress = Annotated[str, Field(max_length=60), AfterValidator(_ip)]


class SystemInfo(WireModel):
    manufacturer: Text = ""
    model: Text = ""
    serial: Text = ""
    uuid: Text = ""
    chassis: Text = ""
    sku: Text = ""
    bios_vendor: Text = ""
    bios_version: Text = ""
    bios_date: Text = ""


class CpuInfo(WireModel):
    model: Text = ""
    vendor: Text = ""
    sockets: Count = 0
    cores: Count = 0
    threads: Count = 0
    frequency_mhz: Annotated[float, Field(ge=0, le=100_000)] = 0


class MemoryModule(WireModel):
    slot: Text = ""
    size_bytes: Bytes = 0
    speed_mts: Count = 0
    type: Text = ""
    manufacturer: Text = ""
    serial: Text = ""
    part_number: Text = ""


class MemoryInfo(WireModel):
    total_bytes: Bytes = 0
    modules: list[MemoryModule] = Field(default_factory=list, max_length=256)


class Disk(WireModel):
    name: Text
    model: Text = ""
    serial: Text = ""
    size_bytes: Bytes = 0
    type: Literal["ssd", "hdd", "nvme", "removable", "virtual", "unknown"] = "unknown"
    bus: Text = ""


class Volume(WireModel):
    mount: Text
    device: Text = ""
    filesystem: Text = ""
    size_bytes: Bytes = 0
    free_bytes: Bytes = 0
    encrypted: bool | None = None


class NetworkInterface(WireModel):
    name: Text
    mac: Text = ""
    ipv4: list[Text] = Field(default_factory=list, max_length=64)
    ipv6: list[Text] = Field(default_factory=list, max_length=64)
    speed_mbps: Count = 0
    up: bool = False


class Display(WireModel):
    name: Text = ""
    manufacturer: Text = ""
    model: Text = ""
    serial: Text = ""
    width: Count = 0
    height: Count = 0


class Peripheral(WireModel):
    bus: Literal["usb", "pci", "bluetooth", "thunderbolt", "other"] = "other"
    vendor_id: Text = ""
    product_id: Text = ""
    vendor: Text = ""
    product: Text = ""
    serial: Text = ""


class OsInfo(WireModel):
    name: Text = ""
    version: Text = ""
    build: Text = ""
    kernel: Text = ""
    arch: Text = ""
    install_date: datetime | None = None
    last_boot: datetime | None = None


class UserSession(WireModel):
    name: Text
    terminal: Text = ""
    host: Text = ""
    started: datetime | None = None


class HardwareInventory(WireModel):
    """Everything the OS tells about the machine. Lists are capped; an absent part is empty."""

    system: SystemInfo = Field(default_factory=SystemInfo)
    cpus: list[CpuInfo] = Field(default_factory=list, max_length=64)
    memory: MemoryInfo = Field(default_factory=MemoryInfo)
    disks: list[Disk] = Field(default_factory=list, max_length=512)
    volumes: list[Volume] = Field(default_factory=list, max_length=1024)
    interfaces: list[NetworkInterface] = Field(default_factory=list, max_length=512)
    displays: list[Display] = Field(default_factory=list, max_length=64)
    peripherals: list[Peripheral] = Field(default_factory=list, max_length=1024)
    os: OsInfo = Field(default_factory=OsInfo)
    users: list[UserSession] = Field(default_factory=list, max_length=1024)


class LicenseKeyItem(WireModel):
    """A licence the OS exposes (Windows product key and activation). The key is secret: the
    controller stores it sealed and never logs it."""

    product: Text
    key: Annotated[str, Field(default="", max_length=100)] = ""
    partial_key: Annotated[str, Field(default="", max_length=10)] = ""
    channel: Text = ""
    status: Literal["licensed", "unlicensed", "grace", "notification", "unknown"] = "unknown"


class NetworkNeighbour(WireModel):
    """A device seen on the agent's networks: from the neighbour (ARP/NDP) table, or a scan of an
    explicitly allowed range."""

    ip: IpAddress
    mac: MacAddress | None = None
    hostname: Text = ""
    vendor: Text = ""
    interface: Text = ""
    source: Literal["neighbour", "gateway", "scan"] = "neighbour"
    open_ports: list[Annotated[int, Field(ge=1, le=65535)]] = Field(default_factory=list, max_length=64)


class DiscoverySettings(WireModel):
    active_cidrs: list[Annotated[str, Field(max_length=64)]] = Field(default_factory=list, max_length=64)
    ports: list[Annotated[int, Field(ge=1, le=65535)]] = Field(default_factory=list, max_length=64)
    rate_per_second: int = Field(default=20, ge=1, le=1000)


class InventorySettings(WireModel):
    full_every_hours: int = Field(default=24, ge=1, le=24 * 30)


class AgentConfig(WireModel):
    """What the controller tells an agent to do beyond jobs (GET /api/agent/v1/config)."""

    version: str
    discovery: DiscoverySettings = Field(default_factory=DiscoverySettings)
    inventory: InventorySettings = Field(default_factory=InventorySettings)
    monitors: MonitorSettings = Field(default_factory=MonitorSettings)

