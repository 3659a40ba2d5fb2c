"""What the OS says about load, memory, volumes, processes and pending reboots.

Every reading is a plain callable on :class:`Probes` so tests pass their own numbers
instead of patching psutil. CPU is read as cumulative busy/total seconds: the monitor
takes the difference to the previous cycle's counters, so a sample is the average over
the whole interval, costs no waiting, and survives a restart (the counters are persisted).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil  # type: ignore[import-untyped, unused-ignore]  # no stubs installed

PSEUDO_FILESYSTEMS = frozenset({
    "tmpfs", "devtmpfs", "devfs", "proc", "sysfs", "cgroup", "cgroup2", "overlay", "squashfs", "autofs",
    "debugfs", "tracefs", "securityfs", "pstore", "bpf", "configfs", "fusectl", "mqueue", "hugetlbfs",
    "nsfs", "ramfs", "binfmt_misc", "efivarfs", "rpc_pipefs", "nfsd", "fuse.lxcfs", "fuse.portal",
    "fuse.gvfsd-fuse", "iso9660", "udf", "nullfs", "map", "autofs_nowait",
})
"""File systems that are not storage a person can fill: never checked."""

LINUX_REBOOT_FLAG = Path("/var/run/reboot-required")


@dataclass(frozen=True)
class VolumeUsage:
    mount: str
    filesystem: str
    total_bytes: int
    free_bytes: int


@dataclass(frozen=True)
class Probes:
    cpu_seconds: Callable[[], tuple[float, float]]
    """Cumulative (busy, total) CPU seconds since boot, over all cores."""
    memory_percent: Callable[[], float]
    volumes: Callable[[], list[VolumeUsage]]
    process_names: Callable[[], set[str]]
    reboot_pending: Callable[[], bool]

    @classmethod
    def system(cls, *, reboot_flag: Path = LINUX_REBOOT_FLAG) -> Probes:
        return cls(cpu_seconds=cpu_seconds, memory_percent=lambda: float(psutil.virtual_memory().percent),
                   volumes=storage_volumes, process_names=process_names,
                   reboot_pending=lambda: reboot_pending(reboot_flag))


def cpu_seconds() -> tuple[float, float]:
    times = psutil.cpu_times()
    idle = times.idle + getattr(times, "iowait", 0.0)
    total = sum(times)
    return total - idle, total


def storage_volumes() -> list[VolumeUsage]:
    """Mounted volumes holding real storage; pseudo and read-only media are left out."""
    found: list[VolumeUsage] = []
    seen: set[str] = set()
    for partition in psutil.disk_partitions(all=False)[:1024]:
        if partition.fstype.lower() in PSEUDO_FILESYSTEMS or partition.mountpoint in seen:
            continue
        seen.add(partition.mountpoint)
        try:
            usage = psutil.disk_usage(partition.mountpoint)
        except OSError:
            continue  # unplugged media, a drive letter without a disk, no permission
        if usage.total > 0:
            found.append(VolumeUsage(partition.mountpoint, partition.fstype, usage.total, usage.free))
    return found


def process_names() -> set[str]:
    names: set[str] = set()
    for process in psutil.process_iter(["name"]):
        name = process.info.get("name")
        if name:
            names.add(name)
            if sys.platform == "win32" and name.lower().endswith(".exe"):
                names.add(name[:-4])  # "sshd" matches "sshd.exe"
    return names


def reboot_pending(flag: Path) -> bool:
    """Debian/Ubuntu leave a flag file; elsewhere the answer is best effort (False)."""
    return flag.exists()
