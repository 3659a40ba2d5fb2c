"""``service`` checks: a service's state (running/stopped) and start mode.

* Linux: ``systemctl show --property=LoadState,ActiveState,UnitFileState -- <unit>`` (``Key=value``
  lines). ``ActiveState`` active/reloading/activating counts as running. systemd has no separate
  "manual": a ``disabled`` unit can still be started by hand or by another unit, so it satisfies
  both ``manual`` and ``disabled``; ``static``/``indirect``/``generated`` satisfy ``manual``; a
  ``masked`` unit satisfies only ``disabled``; ``enabled`` (and ``-runtime``, ``alias``) is
  ``automatic``. A machine without a running systemd is an error (systemctl says why).
* Windows: ``Get-CimInstance Win32_Service`` (Name or DisplayName), ``State`` and ``StartMode``
  (Auto/Boot/System = automatic) as compressed JSON.
* macOS: ``launchctl print system/<label>`` (``state = running``; exit 113 = not loaded) and
  ``launchctl print-disabled system`` (``"<label>" => disabled`` or ``=> true``); a loaded job
  whose properties include ``runatload`` or ``keepalive`` is automatic, else manual.

A service that does not exist is non-compliant when it should run and compliant when it should be
stopped (with no start mode asked, or ``disabled``): absent is as stopped as it gets.
"""

from __future__ import annotations

import re

from agent.policies.checks.host import CommandFailed, Host, parse_json
from agent.policies.checks.results import Finding, judged
from schemas.checks import ServiceCheck

SYSTEMD_PROPERTIES = "--property=LoadState,ActiveState,UnitFileState"
SYSTEMD_RUNNING = frozenset({"active", "reloading", "activating"})
SYSTEMD_START_MODES = {
    "automatic": frozenset({"enabled", "enabled-runtime", "alias", "linked", "linked-runtime"}),
    "manual": frozenset({"disabled", "static", "indirect", "generated", "transient"}),
    "disabled": frozenset({"disabled", "masked", "masked-runtime"}),
}
WINDOWS_SERVICE_QUERY = (
    "$n = $env:FLEETWARD_ARG_SERVICE; "
    "Get-CimInstance -ClassName Win32_Service | Where-Object { $_.Name -eq $n -or $_.DisplayName -eq $n } | "
    "Select-Object -First 1 Name, State, StartMode | ConvertTo-Json -Compress"
)
WINDOWS_START_MODES = {"auto": "automatic", "boot": "automatic", "system": "automatic", "manual": "manual",
                       "disabled": "disabled"}
LAUNCHD_NOT_FOUND = 113


def evaluate_service(check: ServiceCheck, host: Host) -> Finding:
    if host.os == "linux":
        observed = _systemd(check.service, host)
    elif host.os == "windows":
        observed = _windows(check.service, host)
    else:
        observed = _launchd(check.service, host)
    if observed is None:
        ok = check.state == "stopped" and check.start_mode in (None, "disabled")
        return judged(ok, f"service {check.service!r} does not exist")
    state, start_modes, shown = observed
    problems = []
    if state != check.state:
        problems.append(f"is {state}, should be {check.state}")
    if check.start_mode is not None and check.start_mode not in start_modes:
        problems.append(f"starts {shown}, should be {check.start_mode}")
    if problems:
        return judged(False, f"service {check.service!r} " + " and ".join(problems))
    return judged(True, f"service {check.service!r} is {state}, start mode {shown}")


Observed = tuple[str, frozenset[str], str] | None
"""(running|stopped, the start modes the OS's setting satisfies, the setting as the OS names it)."""


def _systemd(unit: str, host: Host) -> Observed:
    text = host.run(["systemctl", "show", SYSTEMD_PROPERTIES, "--", unit]).require_success("systemctl show")
    values = dict(line.partition("=")[::2] for line in text.splitlines() if "=" in line)
    if values.get("LoadState") == "not-found":
        return None
    if "ActiveState" not in values:
        raise CommandFailed("systemctl show printed no ActiveState")
    state = "running" if values["ActiveState"] in SYSTEMD_RUNNING else "stopped"
    file_state = values.get("UnitFileState", "") or "unknown"
    modes = frozenset(mode for mode, states in SYSTEMD_START_MODES.items() if file_state in states)
    return state, modes, file_state


def _windows(service: str, host: Host) -> Observed:
    found = parse_json(host.powershell(WINDOWS_SERVICE_QUERY, service=service).require_success(
        "Get-CimInstance Win32_Service"), "Get-CimInstance Win32_Service")
    if not isinstance(found, dict):
        return None
    state = "running" if str(found.get("State", "")).lower() == "running" else "stopped"
    start = str(found.get("StartMode", ""))
    mode = WINDOWS_START_MODES.get(start.lower())
    return state, frozenset({mode} if mode else ()), start or "unknown"


def _launchd(label: str, host: Host) -> Observed:
    printed = host.run(["launchctl", "print", f"system/{label}"])
    if printed.exit_code == LAUNCHD_NOT_FOUND:
        disabled = _launchd_disabled(label, host)
        # Unloaded: stopped; an explicitly disabled job is disabled, otherwise it is started by hand.
        return ("stopped", frozenset({"disabled"}), "disabled") if disabled else None
    text = printed.require_success("launchctl print")
    state_match = re.search(r"^\s*state = (\S+)", text, re.MULTILINE)
    state = "running" if state_match and state_match.group(1) == "running" else "stopped"
    if _launchd_disabled(label, host):
        return state, frozenset({"disabled"}), "disabled"
    properties = re.search(r"^\s*properties = (.*)$", text, re.MULTILINE)
    flags = properties.group(1).lower() if properties else ""
    if "runatload" in flags or "keepalive" in flags:
        return state, frozenset({"automatic"}), "at load"
    return state, frozenset({"manual"}), "on demand"


def _launchd_disabled(label: str, host: Host) -> bool:
    text = host.run(["launchctl", "print-disabled", "system"]).require_success("launchctl print-disabled")
    match = re.search(rf'^\s*"{re.escape(label)}" => (\S+)', text, re.MULTILINE)
    return bool(match) and match.group(1) in ("disabled", "true")  # type: ignore[union-attr]
