"""Reboot-pending, one row per OS family: a file-system root, a real ``needs-restarting`` stand-in and
a registry table for Windows; families with no reliable answer are not applicable, never a guess."""

from __future__ import annotations

import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agent.monitoring.errors import NotApplicable
from agent.monitoring.probes import Probes
from agent.monitoring.reboots import linux_reboot_pending, windows_reboot_pending
from agent.monitoring.watching import Monitors
from schemas.monitoring import MonitorSettings

DEBIAN = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n'
UBUNTU = 'NAME="Ubuntu"\nID=ubuntu\nID_LIKE=debian\n'
MINT = 'NAME="Linux Mint"\nID=linuxmint\nID_LIKE="ubuntu debian"\n'
SLES = 'NAME="SLES"\nID="sles"\nID_LIKE="suse"\n'
TUMBLEWEED = 'NAME="openSUSE Tumbleweed"\nID="opensuse-tumbleweed"\nID_LIKE="opensuse suse"\n'
RHEL = 'NAME="Red Hat Enterprise Linux"\nID="rhel"\nID_LIKE="fedora"\n'
ROCKY = 'NAME="Rocky Linux"\nID="rocky"\nID_LIKE="rhel centos fedora"\n'
ARCH = 'NAME="Arch Linux"\nID=arch\n'


def _root(tmp_path: Path, os_release: str | None, *flags: str) -> Path:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    if os_release is not None:
        (root / "etc/os-release").write_text(os_release)
    for flag in flags:
        (root / flag).parent.mkdir(parents=True, exist_ok=True)
        (root / flag).touch()
    return root


def _needs_restarting(tmp_path: Path, exit_code: int) -> str:
    tool = tmp_path / "needs-restarting"
    tool.write_text(f'#!/bin/sh\n[ "$1" = "-r" ] || exit 9\necho "Reboot is required"\nexit {exit_code}\n')
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    return str(tool)


@pytest.mark.parametrize(("os_release", "flags", "pending"), [
    pytest.param(DEBIAN, ["var/run/reboot-required"], True, id="debian-flag"),
    pytest.param(DEBIAN, [], False, id="debian-no-flag"),
    pytest.param(UBUNTU, ["var/run/reboot-required"], True, id="ubuntu-flag"),
    pytest.param(MINT, ["var/run/reboot-required"], True, id="mint-like-ubuntu"),
    pytest.param(DEBIAN, ["run/reboot-needed"], False, id="debian-ignores-the-suse-flag"),
    pytest.param(SLES, ["run/reboot-needed"], True, id="sles-flag"),
    pytest.param(TUMBLEWEED, [], False, id="tumbleweed-no-flag"),
    pytest.param(SLES, ["var/run/reboot-required"], False, id="suse-ignores-the-debian-flag"),
])
def test_flag_file_families(tmp_path: Path, os_release: str, flags: list[str], pending: bool) -> None:
    assert linux_reboot_pending(_root(tmp_path, os_release, *flags), which=lambda _name: None) is pending


@pytest.mark.parametrize(("os_release", "exit_code", "pending"), [
    pytest.param(RHEL, 1, True, id="rhel-reboot-needed"),
    pytest.param(RHEL, 0, False, id="rhel-no-reboot"),
    pytest.param(ROCKY, 1, True, id="rocky-like-rhel"),
])
def test_needs_restarting(tmp_path: Path, os_release: str, exit_code: int, pending: bool) -> None:
    tool = _needs_restarting(tmp_path, exit_code)
    root = _root(tmp_path, os_release)
    assert linux_reboot_pending(root, which=lambda name: tool if name == "needs-restarting" else None) is pending


def test_needs_restarting_failing_is_an_error_not_an_answer(tmp_path: Path) -> None:
    tool = _needs_restarting(tmp_path, 3)
    with pytest.raises(OSError, match="exited 3"):
        linux_reboot_pending(_root(tmp_path, RHEL), which=lambda _name: tool)


@pytest.mark.parametrize(("os_release", "reason"), [
    pytest.param(RHEL, "needs-restarting is not installed", id="rhel-without-dnf-utils"),
    pytest.param(ARCH, "records no pending reboot", id="unknown-family"),
    pytest.param(None, "records no pending reboot", id="no-os-release"),
])
def test_not_applicable(tmp_path: Path, os_release: str | None, reason: str) -> None:
    with pytest.raises(NotApplicable, match=reason):
        linux_reboot_pending(_root(tmp_path, os_release, "var/run/reboot-required"), which=lambda _name: None)


CBS = r"SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\RebootPending"
WU = r"SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate\Auto Update\RebootRequired"
SESSION = r"SYSTEM\CurrentControlSet\Control\Session Manager"


class TableRegistry:
    """HKLM as a table: the keys present and the values set (the Windows border; no registry here)."""

    def __init__(self, keys: set[str], values: dict[tuple[str, str], object]) -> None:
        self.keys, self.values = keys, values

    def has_key(self, path: str) -> bool:
        return path in self.keys

    def value(self, path: str, name: str) -> object | None:
        return self.values.get((path, name))


@pytest.mark.parametrize(("keys", "values", "pending"), [
    pytest.param(set(), {}, False, id="clean"),
    pytest.param({CBS}, {}, True, id="component-based-servicing"),
    pytest.param({WU}, {}, True, id="windows-update"),
    pytest.param(set(), {(SESSION, "PendingFileRenameOperations"): [r"\??\C:\Temp\old.dll", ""]}, True,
                 id="pending-file-renames"),
    pytest.param(set(), {(SESSION, "PendingFileRenameOperations"): []}, False, id="empty-rename-list"),
    pytest.param(set(), {(SESSION, "PendingFileRenameOperations"): ["", ""]}, False, id="blank-rename-list"),
    pytest.param({SESSION}, {(SESSION, "BootExecute"): ["autocheck autochk *"]}, False, id="other-values-ignored"),
])
def test_windows_registry(keys: set[str], values: dict[tuple[str, str], object], pending: bool) -> None:
    assert windows_reboot_pending(TableRegistry(keys, values)) is pending


def test_the_monitor_stays_quiet_where_reboot_pending_is_not_applicable(tmp_path: Path) -> None:
    def macos() -> bool:
        raise NotApplicable("macOS keeps no reliable record of a pending restart")

    probes = Probes(cpu_seconds=lambda: (1.0, 10.0), memory_percent=lambda: 20.0, volumes=lambda: [],
                    process_names=lambda: set(), reboot_pending=macos)
    monitors = Monitors(tmp_path, probes=probes, clock=lambda: datetime(2026, 3, 1, tzinfo=UTC))
    assert monitors.run(MonitorSettings()) == []
