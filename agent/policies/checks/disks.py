"""``diskFree`` checks: free space on one volume or on every volume, by percent and/or GiB.

Volumes are the monitors' (:func:`agent.monitoring.probes.storage_volumes`: psutil, pseudo file
systems and unreadable media left out), so a check and a disk alert agree on what a volume is.
``mount`` compares as the OS names it: ``/var`` (a trailing slash ignored) or ``C:`` / ``C:\\``
(case-insensitively). A named mount that is not there is an error: the check cannot be answered.
"""

from __future__ import annotations

from agent.monitoring.probes import VolumeUsage
from agent.policies.checks.host import Host
from agent.policies.checks.results import Finding, error, judged
from schemas.checks import DiskFreeCheck

GiB = 1 << 30


def _normal(mount: str, os_name: str) -> str:
    if os_name == "windows":
        return mount.rstrip("\\/").upper()
    return mount.rstrip("/") or "/"


def evaluate_disk_free(check: DiskFreeCheck, host: Host) -> Finding:
    volumes = host.volumes()
    if check.mount is not None:
        wanted = _normal(check.mount, host.os)
        volumes = [volume for volume in volumes if _normal(volume.mount, host.os) == wanted]
        if not volumes:
            return error(f"no volume is mounted at {check.mount}")
    if not volumes:
        return error("no storage volume found")
    short = [volume for volume in volumes if not _enough(volume, check)]
    shown = "; ".join(_describe(volume) for volume in (short or volumes)[:20])
    return judged(not short, f"too little free: {shown}" if short else shown)


def _enough(volume: VolumeUsage, check: DiskFreeCheck) -> bool:
    percent = 100.0 * volume.free_bytes / volume.total_bytes if volume.total_bytes else 0.0
    if check.min_free_percent is not None and percent < check.min_free_percent:
        return False
    return check.min_free_gib is None or volume.free_bytes / GiB >= check.min_free_gib


def _describe(volume: VolumeUsage) -> str:
    percent = 100.0 * volume.free_bytes / volume.total_bytes if volume.total_bytes else 0.0
    return f"{volume.mount} {volume.free_bytes / GiB:.1f} GiB free ({percent:.0f}%)"
