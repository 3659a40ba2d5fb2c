"""The hardware section on Linux: sysfs and procfs for what the hardware is, psutil for the rest.

Everything is read from files under ``root`` (``/`` in production, a fake tree in tests) except
what psutil reports: memory total, volumes, interfaces, sessions and boot time. Reading is cheap -
a few hundred small files and no subprocess - so the whole section costs well under a second of CPU.
"""

from __future__ import annotations

import logging
import platform
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import psutil  # type: ignore[import-untyped, unused-ignore]  # no stubs installed

from agent.facts import parse_os_release
from agent.hardware import portable, sysfs
from agent.hardware.gathering import gather
from agent.hardware.smbios import memory_modules
from agent.hardware.values import build, count, frequency_mhz, when
from schemas.inventory import CpuInfo, HardwareInventory, MemoryInfo, OsInfo

log = logging.getLogger(__name__)

MAX_CPUINFO_BYTES = 4 * 1024 * 1024
MAX_OS_RELEASE_BYTES = 64 * 1024
_RATED_SPEED = re.compile(r"@\s*([0-9.]+\s*[GM]Hz)", re.IGNORECASE)
_VENDORS = {"GenuineIntel": "Intel", "AuthenticAMD": "AMD", "HygonGenuine": "Hygon", "CentaurHauls": "Centaur"}

# Files an installer writes once, in order of trust; the first that exists dates the installation.
# Linux keeps no install date, and the birth time of "/" is not available through os.stat, so:
# Debian/Ubuntu's installer logs, Red Hat's kickstart record, then /etc/machine-id, which systemd
# writes on the first boot of a new installation (and image builders reset for every clone).
INSTALL_MARKERS = ("var/log/installer", "root/anaconda-ks.cfg", "var/log/anaconda", "etc/machine-id")


def _text(path: Path, limit: int) -> str:
    value = sysfs.read_attribute(path, limit=limit)
    return value if isinstance(value, str) else ""


@dataclass
class _Model:
    """The processors /proc/cpuinfo lists under one model name."""

    vendor: str = ""
    mhz: str = ""
    threads: int = 0
    cores_by_socket: dict[str, str] = field(default_factory=dict)


def parse_cpuinfo(text: str) -> list[CpuInfo]:
    """One entry per CPU model from /proc/cpuinfo: sockets ("physical id"), cores, threads, speed.

    Frequency is the rated speed in the model name ("@ 2.60GHz") or, failing that, the first
    "cpu MHz"; the collector prefers cpufreq's maximum, which does not move with the load.
    """
    models: dict[str, _Model] = {}
    for block in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            key, sep, value = line.partition(":")
            if sep:
                fields.setdefault(key.strip().lower(), value.strip())
        if "processor" not in fields:
            continue
        name = fields.get("model name") or fields.get("cpu model") or fields.get("hardware") or ""
        model = models.setdefault(name, _Model(vendor=fields.get("vendor_id", ""), mhz=fields.get("cpu mhz", "")))
        model.threads += 1
        model.cores_by_socket.setdefault(fields.get("physical id", "0"), fields.get("cpu cores", ""))
    cpus: list[CpuInfo] = []
    for name, model in models.items():
        cores = sum(count(cores, what="cpu cores") for cores in model.cores_by_socket.values()) or model.threads
        rated = _RATED_SPEED.search(name)
        cpu = build(CpuInfo, f"cpu {name}", model=name, vendor=_VENDORS.get(model.vendor, model.vendor),
                    sockets=len(model.cores_by_socket), cores=min(cores, model.threads), threads=model.threads,
                    frequency_mhz=frequency_mhz(rated.group(1) if rated else model.mhz, what="cpu frequency"))
        if cpu is not None:
            cpus.append(cpu)
    return cpus


def cpus(root: Path) -> list[CpuInfo]:
    found = parse_cpuinfo(_text(root / "proc/cpuinfo", MAX_CPUINFO_BYTES))
    max_khz = count(sysfs.attribute(root / "sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq"),
                    what="cpufreq maximum", high=100_000_000)
    if max_khz:
        found = [cpu.model_copy(update={"frequency_mhz": round(max_khz / 1000, 1)}) for cpu in found]
    return found


def memory(root: Path) -> MemoryInfo:
    """Total RAM from psutil; modules from the SMBIOS tables when the agent runs as root."""
    return MemoryInfo(total_bytes=psutil.virtual_memory().total, modules=memory_modules(root)[:256])


def install_date(root: Path) -> datetime | None:
    """When this installation was made, from the first install marker that exists (see above)."""
    for marker in INSTALL_MARKERS:
        try:
            stamp = (root / marker).stat().st_mtime
        except OSError:
            continue
        return when(int(stamp), what=f"install date from {marker}")
    return None


def os_info(root: Path) -> OsInfo:
    release = parse_os_release(_text(root / "etc/os-release", MAX_OS_RELEASE_BYTES)
                               or _text(root / "usr/lib/os-release", MAX_OS_RELEASE_BYTES))
    info = build(
        OsInfo, "OS",
        name=release.get("NAME", "Linux"),
        version=release.get("VERSION_ID") or release.get("VERSION", ""),
        build=release.get("BUILD_ID") or release.get("VERSION", ""),
        kernel=sysfs.attribute(root / "proc/sys/kernel/osrelease"),
        arch=platform.machine(),
        install_date=install_date(root),
        last_boot=portable.boot_time(),
    )
    return info or OsInfo()


def collect_linux(root: Path = Path("/")) -> HardwareInventory:
    """The hardware section of this Linux machine (or of the fake tree at ``root``)."""
    return gather({
        "system": lambda: sysfs.system_info(root),
        "cpus": lambda: cpus(root),
        "memory": lambda: memory(root),
        "disks": lambda: sysfs.disks(root),
        "volumes": portable.volumes,
        "interfaces": portable.interfaces,
        "displays": lambda: sysfs.displays(root),
        "peripherals": lambda: sysfs.peripherals(root),
        "os": lambda: os_info(root),
        "users": portable.users,
    })
