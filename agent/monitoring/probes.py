"""What the OS says about load, memory, volumes, processes, services and pending reboots.

Every reading is a plain callable on :class:`Probes` so tests pass their own numbers
instead of patching psutil. CPU is read as cumulative busy/total seconds: the monitor
takes the difference to the previous cycle's counters, so a sample is the average over
the whole interval, costs no waiting, and survives a restart (the counters are persisted).
Services and pending reboots differ per OS: :mod:`agent.monitoring.services` and
:mod:`agent.monitoring.reboots`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import psutil  # type: ignore[import-untyped, unused-ignore]  # no stubs installed

from agent.monitoring.errors import NotApplicable
from agent.monitoring.reboots import system_reboot_pending
from agent.monitoring.services import ServiceStates, system_service_states

PSEUDO_FILESYSTEMS = frozenset({
    "tmpfs", "devtmpfs", "devfs", "proc", "sysfs", "cgroup", "cgroup2", "overlay", "squashfs", "autofs",
    "debugfs", "tracefs", "securityfs", "pstore", "bpf", "configfs", "fusectl", "mqueue", "hugetlbfs",
    "nsfs", "ramfs", "binfmt_misc", "efivarfs", "rpc_pipefs", "nfsd", "fuse.lxcfs", "fuse.portal",
    "fuse.gvfsd-fuse", "iso9660", "udf", "nullfs", "map", "autofs_nowait",
})
"""File systems that are not storage a person can fill: never checked."""


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
    """Raises NotApplicable where the OS keeps no answer."""
    service_states: Callable[[Sequence[str]], ServiceStates] = lambda names: _no_services(names)
    """The state of each named service; raises NotApplicable without a service manager to ask."""

    @classmethod
    def system(cls) -> Probes:
        return cls(cpu_seconds=cpu_seconds, memory_percent=lambda: float(psutil.virtual_memory().percent),
                   volumes=storage_volumes, process_names=process_names,
                   reboot_pending=system_reboot_pending, service_states=system_service_states)


def _no_services(names: Sequence[str]) -> ServiceStates:
    raise NotApplicable("no service probe was given")


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

