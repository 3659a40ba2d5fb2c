"""Whether the machine waits for a reboot, asked the way each OS family records it.

Each family has one table row saying where it keeps the answer:

=====================  ==================================================================
Debian, Ubuntu         ``/var/run/reboot-required`` exists (written by the package hooks)
SUSE, openSUSE         ``/run/reboot-needed`` exists (written by zypper)
RHEL, Fedora, CentOS…  ``needs-restarting -r`` exits 1 (0: no reboot); without the tool
                       (dnf-utils / yum-utils) the question has no answer here
Windows                any of: the Component Based Servicing ``RebootPending`` key, the
                       Windows Update ``Auto Update\\RebootRequired`` key, a non-empty
                       ``Session Manager\\PendingFileRenameOperations`` value
macOS                  not applicable: macOS keeps no record of a pending restart
                       (``softwareupdate --list`` only says an update *not yet installed*
                       will want one), so the monitor says so instead of guessing
=====================  ==================================================================

A Linux family not in the table is not applicable too. Everything a check reads is a parameter
(the file system root, the command, the registry), so the tests drive each row for real.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from agent.monitoring.errors import NotApplicable

COMMAND_TIMEOUT = 120.0


@dataclass(frozen=True)
class LinuxFamily:
    name: str
    ids: frozenset[str]
    """os-release ``ID`` / ``ID_LIKE`` words that put a distribution in this family."""
    flag: str | None = None
    """A file (relative to the root) whose existence means a reboot is pending."""
    command: str | None = None
    """A tool answering with its exit code: 1 pending, 0 not."""


LINUX_FAMILIES = (
    LinuxFamily("Debian/Ubuntu", frozenset({"debian", "ubuntu"}), flag="var/run/reboot-required"),
    LinuxFamily("SUSE", frozenset({"suse", "opensuse", "sles", "sled", "opensuse-leap", "opensuse-tumbleweed"}),
                flag="run/reboot-needed"),
    LinuxFamily("RHEL/Fedora", frozenset({"rhel", "fedora", "centos", "rocky", "almalinux", "ol"}),
                command="needs-restarting"),
)


def linux_reboot_pending(root: Path = Path("/"), *, which: Callable[[str], str | None] = shutil.which) -> bool:
    family = linux_family(root)
    if family is None:
        raise NotApplicable("this Linux distribution records no pending reboot that Fleetward knows how to read")
    if family.flag is not None:
        return (root / family.flag).exists()
    assert family.command is not None
    tool = which(family.command)
    if tool is None:
        raise NotApplicable(f"{family.command} is not installed, so a pending reboot cannot be told",
                            hint="install dnf-utils (yum-utils on older releases)")
    completed = subprocess.run([tool, "-r"], capture_output=True, text=True, timeout=COMMAND_TIMEOUT, check=False)
    if completed.returncode in (0, 1):
        return completed.returncode == 1
    raise OSError(f"{family.command} -r exited {completed.returncode}: {completed.stderr.strip()[:300]}")


def linux_family(root: Path) -> LinuxFamily | None:
    """The family of the distribution /etc/os-release describes (ID first, then ID_LIKE in order)."""
    words: list[str] = []
    for candidate in (root / "etc/os-release", root / "usr/lib/os-release"):
        try:
            text = candidate.read_text(encoding="utf-8", errors="replace")[:65536]
        except OSError:
            continue
        fields = {key.strip(): value.strip().strip("\"'") for key, _, value in
                  (line.partition("=") for line in text.splitlines()) if key.strip()}
        words = [fields.get("ID", "").lower(), *fields.get("ID_LIKE", "").lower().split()]
        break
    for word in words:
        for family in LINUX_FAMILIES:
            if word in family.ids:
                return family
    return None


class Registry(Protocol):
    """The part of HKEY_LOCAL_MACHINE the check reads."""

    def has_key(self, path: str) -> bool: ...

    def value(self, path: str, name: str) -> object | None: ...


WINDOWS_KEYS = (
    r"SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\RebootPending",
    r"SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate\Auto Update\RebootRequired",
)
WINDOWS_VALUES = ((r"SYSTEM\CurrentControlSet\Control\Session Manager", "PendingFileRenameOperations"),)


def windows_reboot_pending(registry: Registry) -> bool:
    if any(registry.has_key(path) for path in WINDOWS_KEYS):
        return True
    # REG_MULTI_SZ: a list of strings; an empty list (or only empty strings) means nothing pending.
    return any(_non_empty(registry.value(path, name)) for path, name in WINDOWS_VALUES)


def _non_empty(value: object | None) -> bool:
    if isinstance(value, (list, tuple)):
        return any(str(item) for item in value)
    return bool(value)


def system_reboot_pending() -> bool:
    if sys.platform == "win32":
        return windows_reboot_pending(_WindowsRegistry())
    if sys.platform == "darwin":
        raise NotApplicable("macOS keeps no reliable record of a pending restart")
    return linux_reboot_pending()


if sys.platform == "win32":
    import winreg

    class _WindowsRegistry:
        def has_key(self, path: str) -> bool:
            try:
                winreg.CloseKey(winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, path))
            except FileNotFoundError:
                return False
            return True

        def value(self, path: str, name: str) -> object | None:
            try:
                with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, path) as key:
                    return winreg.QueryValueEx(key, name)[0]
            except FileNotFoundError:
                return None
