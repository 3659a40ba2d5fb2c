"""``diskEncryption`` checks: the system volume (or every fixed volume) is encrypted.

* Linux: ``lsblk -J -o NAME,TYPE,FSTYPE,MOUNTPOINT``; a mounted file system is encrypted when it
  or a device below it is a dm-crypt mapping (``TYPE crypt``, which lsblk derives from the
  ``CRYPT-`` prefix in ``/sys/block/dm-*/dm/uuid``: LUKS, plain dm-crypt). ``system`` is the file
  system at ``/``; ``all`` is every mounted one except swap, ``/boot`` and ``/boot/efi``, which
  the boot loader must read unencrypted. fscrypt and ZFS native encryption are not recognised.
* Windows: ``Get-BitLockerVolume`` (needs the agent's SYSTEM account): ``system`` is the
  ``OperatingSystem`` volume, ``all`` adds every ``FixedDataDrive``; encrypted = protection ``On``.
* macOS: ``fdesetup status`` (``FileVault is On.``). FileVault answers for the startup volume only,
  so ``volumes: all`` is not applicable on macOS.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from agent.policies.checks.host import CommandFailed, Host, parse_json
from agent.policies.checks.results import Finding, error, judged, not_applicable
from schemas.checks import DiskEncryptionCheck

LSBLK = ["lsblk", "-J", "-o", "NAME,TYPE,FSTYPE,MOUNTPOINT"]
UNENCRYPTED_BY_DESIGN = frozenset({"/boot", "/boot/efi", "/efi", "[SWAP]"})
WINDOWS_BITLOCKER = ("Get-BitLockerVolume | ForEach-Object { \"{0}|{1}|{2}|{3}\" -f "
                     "$_.MountPoint, $_.VolumeType, $_.ProtectionStatus, $_.VolumeStatus }")


def evaluate_disk_encryption(check: DiskEncryptionCheck, host: Host) -> Finding:
    if host.os == "linux":
        return _linux(check, host)
    if host.os == "windows":
        return _windows(check, host)
    if check.volumes == "all":
        return not_applicable("fdesetup reports FileVault for the startup volume only; use volumes: system")
    text = host.run(["fdesetup", "status"]).require_success("fdesetup status")
    first = text.strip().splitlines()[0] if text.strip() else ""
    if not first.startswith("FileVault is"):
        return error(f"fdesetup status said {first[:200]!r}")
    return judged(first.startswith("FileVault is On"), first)


def _mounted(devices: list[Any], below: tuple[dict[str, Any], ...] = ()) -> Iterator[tuple[str, list[str]]]:
    """(mount point, the device chain from the mounted device down to the disk) for each mount."""
    for device in devices:
        if not isinstance(device, dict):
            continue
        chain = (device, *below)
        mount = device.get("mountpoint")
        if isinstance(mount, str) and mount:
            yield mount, [f"{d.get('name')} ({d.get('type')})" for d in chain]
        yield from _mounted(device.get("children") or [], chain)


def _linux(check: DiskEncryptionCheck, host: Host) -> Finding:
    tree = parse_json(host.run(LSBLK).require_success("lsblk"), "lsblk -J")
    if not isinstance(tree, dict) or not isinstance(tree.get("blockdevices"), list):
        raise CommandFailed("lsblk -J printed no blockdevices")
    mounts = dict(_mounted(tree["blockdevices"]))
    if check.volumes == "system":
        if "/" not in mounts:
            return error("lsblk shows no device mounted at / (an overlay or network root cannot be judged)")
        wanted = {"/": mounts["/"]}
    else:
        wanted = {mount: chain for mount, chain in mounts.items() if mount not in UNENCRYPTED_BY_DESIGN}
    plain = sorted(mount for mount, chain in wanted.items() if not any(part.endswith("(crypt)") for part in chain))
    shown = "; ".join(f"{mount} on {' < '.join(wanted[mount])}" for mount in (plain or sorted(wanted))[:10])
    return judged(not plain, f"not on dm-crypt: {shown}" if plain else f"encrypted: {shown}")


def _windows(check: DiskEncryptionCheck, host: Host) -> Finding:
    text = host.powershell(WINDOWS_BITLOCKER).require_success("Get-BitLockerVolume")
    kinds = {"OperatingSystem"} if check.volumes == "system" else {"OperatingSystem", "FixedDataDrive"}
    volumes = [line.strip().split("|") for line in text.splitlines() if line.count("|") == 3]
    wanted = [volume for volume in volumes if volume[1] in kinds]
    if not wanted:
        return error(f"Get-BitLockerVolume lists no {' or '.join(sorted(kinds))} volume")
    plain = [volume for volume in wanted if volume[2] != "On"]
    shown = "; ".join(f"{mount} {kind} protection {status} ({state})" for mount, kind, status, state in
                      (plain or wanted))
    return judged(not plain, shown)
