"""``osUpdateAge`` checks: the newest package transaction / installed update is at most ``maxDays`` old.

* Linux, in this order, the first source present: apt's ``/var/log/apt/history.log`` (and its
  rotations ``history.log.1``, ``history.log.N.gz``: every ``End-Date:``), dpkg's
  ``/var/log/dpkg.log`` (``status installed`` lines), else ``rpm -qa --qf '%{INSTALLTIME}\\n'``
  (dnf, yum and zypper all install through rpm). Any transaction counts, since a machine that
  installs from an up-to-date mirror gets current packages; apt/dpkg times are local time. No
  source at all is an error.
* Windows: ``Get-HotFix`` ``InstalledOn`` (Win32_QuickFixEngineering), printed as ``yyyy-MM-dd``.
* macOS: ``softwareupdate --history`` (the date column, ``MM/DD/YYYY, HH:MM:SS``, local time);
  an empty history is non-compliant (nothing was ever installed through it).
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from agent.policies.checks.host import CommandMissing, Host
from agent.policies.checks.results import Finding, error, judged, non_compliant
from schemas.checks import OsUpdateAgeCheck

MAX_LOG_BYTES = 32 * 1024 * 1024
APT_END = re.compile(r"^End-Date: (\d{4}-\d{2}-\d{2})\s+(\d{2}:\d{2}:\d{2})", re.MULTILINE)
DPKG_INSTALLED = re.compile(r"^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}) status installed ", re.MULTILINE)
MACOS_DATE = re.compile(r"(\d{2})/(\d{2})/(\d{4}), (\d{2}):(\d{2}):(\d{2})")
WINDOWS_HOTFIX_DATES = ("Get-HotFix | ForEach-Object { if ($_.InstalledOn) { $_.InstalledOn.ToString('yyyy-MM-dd') } }")


def evaluate_os_update_age(check: OsUpdateAgeCheck, host: Host) -> Finding:
    if host.os == "linux":
        found = _linux(host)
        if found is None:
            return error("no package history found (apt history, dpkg.log or rpm)")
        newest, source = found
    elif host.os == "windows":
        text = host.powershell(WINDOWS_HOTFIX_DATES).require_success("Get-HotFix")
        dates = [datetime.strptime(line.strip(), "%Y-%m-%d").replace(tzinfo=UTC)
                 for line in text.splitlines() if re.fullmatch(r"\d{4}-\d{2}-\d{2}", line.strip())]
        if not dates:
            return error("Get-HotFix lists no update with an installation date")
        newest, source = max(dates), "newest hotfix"
    else:
        text = host.run(["softwareupdate", "--history"]).require_success("softwareupdate --history")
        dates = [_local(datetime(int(y), int(m), int(d), int(hh), int(mm), int(ss)))
                 for m, d, y, hh, mm, ss in MACOS_DATE.findall(text)]
        if not dates:
            return non_compliant("softwareupdate --history lists no installed update")
        newest, source = max(dates), "newest softwareupdate install"
    age = (host.clock() - newest).total_seconds() / 86400
    return judged(age <= check.max_days, f"{source} {newest:%Y-%m-%d %H:%M} UTC, {max(age, 0):.0f} days ago "
                                         f"(at most {check.max_days} allowed)")


def _local(moment: datetime) -> datetime:
    """A naive local time as an aware UTC one (the machine's own time zone)."""
    return moment.astimezone(UTC)


def _linux(host: Host) -> tuple[datetime, str] | None:
    apt = host.place("apt-history", "/var/log/apt/history.log")
    stamps = _stamps(_read_logs(apt), APT_END)
    if stamps:
        return max(stamps), "last apt transaction"
    dpkg = host.place("dpkg-log", "/var/log/dpkg.log")
    stamps = _stamps(_read_logs(dpkg), DPKG_INSTALLED)
    if stamps:
        return max(stamps), "last dpkg install"
    try:
        output = host.run(["rpm", "-qa", "--qf", "%{INSTALLTIME}\\n"])
    except CommandMissing:
        return None
    times = [int(line) for line in output.require_success("rpm -qa").split() if line.isdigit()]
    return (datetime.fromtimestamp(max(times), UTC), "last rpm install") if times else None


def _read_logs(current: Path) -> Iterable[str]:
    """The log and its rotations (``.1``, ``.N.gz``), each capped."""
    candidates = [current, current.with_name(current.name + ".1"),
                  *sorted(current.parent.glob(current.name + ".*.gz"))[:20]]
    for path in candidates:
        try:
            if path.suffix == ".gz":
                with gzip.open(path, "rb") as handle:
                    yield handle.read(MAX_LOG_BYTES).decode("utf-8", "replace")
            else:
                with path.open("rb") as handle:
                    yield handle.read(MAX_LOG_BYTES).decode("utf-8", "replace")
        except (OSError, EOFError):
            continue


def _stamps(texts: Iterable[str], pattern: re.Pattern[str]) -> list[datetime]:
    found = []
    for text in texts:
        for day, time in pattern.findall(text):
            try:
                found.append(_local(datetime.fromisoformat(f"{day} {time}")))
            except ValueError:
                continue
    return found
