"""Whether named OS services run: systemd units, Windows services, launchd jobs.

One question per cycle for all the watched names, asked the way each OS answers it:

* Linux: ``systemctl show --property=Id,LoadState,ActiveState,SubState -- <units>``, one call for
  every unit; a unit runs when its ActiveState is ``active`` or ``reloading``. A machine not booted
  with systemd (a container, an old init) is :class:`NotApplicable`, not a wall of alerts.
* Windows: ``psutil.win_service_get(name).status()``; ``running`` runs, every other status
  (stopped, paused, start/stop pending) does not, and an unknown name is missing.
* macOS: ``launchctl list`` (the system domain, as the agent runs as root), one call; a job runs
  when the list shows it a PID. Jobs launchd starts on demand show no PID while idle: watch
  daemons that keep running.

The parsing is separate from the asking, so the tests read recorded output of every OS.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil  # type: ignore[import-untyped, unused-ignore]  # no stubs installed

from agent.monitoring.errors import NotApplicable

SYSTEMD_BOOTED = Path("/run/systemd/system")
"""Exists exactly when systemd is PID 1 (what sd_booted(3) checks)."""
COMMAND_TIMEOUT = 30.0
MAX_OUTPUT_CHARS = 2_000_000
RUNNING_UNIT_STATES = frozenset({"active", "reloading"})


@dataclass(frozen=True)
class ServiceState:
    running: bool
    state: str
    """What the OS says, for the alert message: 'inactive (dead)', 'stopped', 'not found'..."""


ServiceStates = dict[str, ServiceState]


def system_service_states(names: Sequence[str]) -> ServiceStates:
    """The state of every name on this machine; raises NotApplicable where the OS cannot say."""
    if sys.platform == "win32":
        return windows_service_states(names, _windows_status)
    if sys.platform == "darwin":
        return launchd_service_states(names, _run(["launchctl", "list"], "launchctl list"))
    return systemd_service_states(names)


def systemd_service_states(names: Sequence[str], *, booted: Path = SYSTEMD_BOOTED,
                           systemctl: str | None = None) -> ServiceStates:
    tool = systemctl or shutil.which("systemctl")
    if not booted.is_dir() or tool is None:
        raise NotApplicable("this machine does not run systemd, so there are no units to watch",
                            hint="leave monitors.services.required empty for such devices (a device group)")
    if not names:
        return {}
    output = _run([tool, "show", "--no-pager", "--property=Id,LoadState,ActiveState,SubState", "--", *names],
                  "systemctl show")
    return parse_systemctl_show(names, output)


def parse_systemctl_show(names: Sequence[str], output: str) -> ServiceStates:
    """``systemctl show`` prints one block of ``Key=value`` lines per unit, in the order asked,
    separated by blank lines (an alias answers with its real unit's Id, so order, not Id, decides)."""
    blocks: list[dict[str, str]] = []
    for chunk in output.strip().split("\n\n"):
        fields = dict(line.split("=", 1) for line in chunk.splitlines() if "=" in line)
        if fields:
            blocks.append(fields)
    if len(blocks) != len(names):
        raise ValueError(f"systemctl show answered {len(blocks)} units for {len(names)} asked")
    states: ServiceStates = {}
    for name, fields in zip(names, blocks, strict=True):
        if fields.get("LoadState") == "not-found":
            states[name] = ServiceState(False, "not found")
            continue
        active, sub = fields.get("ActiveState", "unknown"), fields.get("SubState", "")
        states[name] = ServiceState(active in RUNNING_UNIT_STATES, f"{active} ({sub})" if sub else active)
    return states


def windows_service_states(names: Iterable[str], status_of: Callable[[str], str | None]) -> ServiceStates:
    """``status_of`` gives psutil's status string for a service name, or None when there is no such service."""
    states: ServiceStates = {}
    for name in names:
        status = status_of(name)
        states[name] = (ServiceState(False, "not found") if status is None
                        else ServiceState(status == "running", status))
    return states


def parse_launchctl_list(output: str) -> Mapping[str, ServiceState]:
    """``launchctl list``: a header, then ``PID<TAB>Status<TAB>Label`` per loaded job ('-' for no PID)."""
    jobs: dict[str, ServiceState] = {}
    for line in output.splitlines():
        parts = line.split("\t")
        if len(parts) != 3 or parts[0] == "PID":
            continue
        pid, status, label = (part.strip() for part in parts)
        if pid.isdigit():
            jobs[label] = ServiceState(True, f"running (pid {pid})")
        else:
            jobs[label] = ServiceState(False, "not running" if status in ("0", "-") else
                                       f"not running (last exit {status})")
    return jobs


def launchd_service_states(names: Iterable[str], output: str) -> ServiceStates:
    jobs = parse_launchctl_list(output)
    return {name: jobs.get(name, ServiceState(False, "not loaded")) for name in names}


def _windows_status(name: str) -> str | None:
    try:
        return str(psutil.win_service_get(name).status())
    except psutil.NoSuchProcess:
        return None


def _run(command: list[str], label: str) -> str:
    completed = subprocess.run(command, capture_output=True, text=True, timeout=COMMAND_TIMEOUT, check=False)
    if completed.returncode != 0:
        raise OSError(f"{label} exited {completed.returncode}: {completed.stderr.strip()[:300]}")
    return completed.stdout[:MAX_OUTPUT_CHARS]
