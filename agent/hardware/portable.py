"""The parts psutil reports the same way on every OS: volumes, network interfaces, sessions, boot.

Linux takes its volumes, interfaces and users from here; Windows and macOS take the logged-in users
and the boot time from here too, because the CIM and system_profiler answers for those are either
incomplete (one console user) or drift with every call (an uptime).
"""

from __future__ import annotations

import logging
import socket
from datetime import datetime

import psutil  # type: ignore[import-untyped, unused-ignore]  # no stubs installed

from agent.hardware.values import build, floor_gib, when
from schemas.inventory import NetworkInterface, UserSession, Volume

log = logging.getLogger(__name__)

# Filesystems that hold no user data on a disk: kernel views, RAM, container layers, snap images.
PSEUDO_FILESYSTEMS = frozenset({
    "autofs", "binfmt_misc", "bpf", "cgroup", "cgroup2", "configfs", "debugfs", "devpts", "devtmpfs",
    "efivarfs", "fusectl", "hugetlbfs", "mqueue", "nsfs", "overlay", "proc", "pstore", "ramfs",
    "securityfs", "squashfs", "sysfs", "tmpfs", "tracefs", "aufs", "devfs", "nullfs", "autofs4",
})
MAX_VOLUMES = 1024


def volumes() -> list[Volume]:
    """Mounted filesystems backed by a device, with size and free space (free in whole GiB)."""
    found: list[Volume] = []
    for partition in psutil.disk_partitions(all=False)[:MAX_VOLUMES]:
        fstype = partition.fstype.lower()
        if fstype in PSEUDO_FILESYSTEMS or partition.mountpoint.startswith("/snap/"):
            continue
        try:
            usage = psutil.disk_usage(partition.mountpoint)
            total, free = usage.total, usage.free
        except OSError as exc:  # a CD drive without a disc, a mount the agent may not stat
            log.debug("no usage for %s: %s", partition.mountpoint, exc)
            total = free = 0
        volume = build(Volume, f"volume {partition.mountpoint}", mount=partition.mountpoint,
                       device=partition.device, filesystem=partition.fstype, size_bytes=total,
                       free_bytes=floor_gib(free))
        if volume is not None:
            found.append(volume)
    return found


def interfaces() -> list[NetworkInterface]:
    """Every interface with its MAC, addresses (sorted), link speed and state."""
    addresses = psutil.net_if_addrs()
    stats = psutil.net_if_stats()
    found: list[NetworkInterface] = []
    for name in sorted(set(addresses) | set(stats))[:512]:
        mac = ""
        ipv4: set[str] = set()
        ipv6: set[str] = set()
        for address in addresses.get(name, []):
            if address.family == psutil.AF_LINK:
                mac = address.address.lower().replace("-", ":")
            elif address.family == socket.AF_INET:
                ipv4.add(address.address)
            elif address.family == socket.AF_INET6:
                ipv6.add(address.address.split("%", 1)[0])
        stat = stats.get(name)
        interface = build(NetworkInterface, f"interface {name}", name=name, mac=mac, ipv4=sorted(ipv4)[:64],
                          ipv6=sorted(ipv6)[:64], speed_mbps=max(stat.speed, 0) if stat else 0,
                          up=bool(stat and stat.isup))
        if interface is not None:
            found.append(interface)
    return found


def users() -> list[UserSession]:
    """Logged-in sessions: who, on which terminal, from which host, since when."""
    found: list[UserSession] = []
    for session in psutil.users()[:1024]:
        user = build(UserSession, "a user session", name=session.name or "", terminal=session.terminal or "",
                     host=session.host or "", started=when(session.started, what="session start"))
        if user is not None and user.name:
            found.append(user)
    return found


def boot_time() -> datetime | None:
    """When the machine last booted (stable across calls: the kernel's boot timestamp)."""
    return when(int(psutil.boot_time()), what="boot time")
