"""``screenLock`` checks: the screen locks after at most ``maxTimeoutSeconds`` of inactivity.

* Linux (GNOME): ``gsettings get`` of ``org.gnome.desktop.session idle-delay``,
  ``org.gnome.desktop.screensaver lock-enabled`` and ``lock-delay``; the timeout is idle-delay plus
  lock-delay, and an idle-delay of 0 means never. gsettings reads the settings the agent's account
  sees - the system defaults and locks from ``/etc/dconf``, which is where an MSP sets them - not
  each user's own choice. No gsettings, or no GNOME schema, is *not applicable* (no GNOME desktop
  to lock), saying which.
* Windows: the machine inactivity limit ``HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Policies
  \\System`` ``InactivityTimeoutSecs``, or the screen saver group policy under ``HKLM\\SOFTWARE\\
  Policies\\Microsoft\\Windows\\Control Panel\\Desktop`` (``ScreenSaveActive`` and
  ``ScreenSaverIsSecure`` 1, ``ScreenSaveTimeOut`` seconds). Either within the limit is compliant.
* macOS: ``sysadminctl -screenLock status`` (``screenLock delay is N seconds`` / ``immediate`` /
  ``off``, printed on stderr) plus the machine-wide screen saver idle time ``defaults read
  /Library/Preferences/com.apple.screensaver idleTime``; no machine-wide idle time is non-compliant.
"""

from __future__ import annotations

import re

from agent.policies.checks.host import CommandMissing, Host
from agent.policies.checks.results import Finding, error, judged, non_compliant, not_applicable
from schemas.checks import ScreenLockCheck

INACTIVITY_KEY = r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Policies\System"
SCREENSAVER_KEY = r"HKLM\SOFTWARE\Policies\Microsoft\Windows\Control Panel\Desktop"


def evaluate_screen_lock(check: ScreenLockCheck, host: Host) -> Finding:
    if host.os == "linux":
        return _gnome(check, host)
    if host.os == "windows":
        return _windows(check, host)
    return _macos(check, host)


def _gsetting(host: Host, schema: str, key: str) -> str | None:
    output = host.run(["gsettings", "get", schema, key])
    if output.exit_code != 0:
        return None
    return output.stdout.strip()


def _gnome(check: ScreenLockCheck, host: Host) -> Finding:
    try:
        idle = _gsetting(host, "org.gnome.desktop.session", "idle-delay")
    except CommandMissing:
        return not_applicable("gsettings is not installed: no GNOME desktop whose lock could be checked")
    if idle is None:
        return not_applicable("the GNOME desktop schemas are not installed (org.gnome.desktop.session)")
    enabled = _gsetting(host, "org.gnome.desktop.screensaver", "lock-enabled")
    delay = _gsetting(host, "org.gnome.desktop.screensaver", "lock-delay")
    idle_seconds, delay_seconds = _uint(idle), _uint(delay or "uint32 0")
    if idle_seconds is None or delay_seconds is None or enabled not in ("true", "false"):
        return error(f"gsettings printed idle-delay={idle!r}, lock-enabled={enabled!r}, lock-delay={delay!r}")
    if enabled == "false":
        return non_compliant("GNOME screen lock is disabled (org.gnome.desktop.screensaver lock-enabled false)")
    if idle_seconds == 0:
        return non_compliant("the GNOME screen never blanks (idle-delay 0), so it never locks")
    total = idle_seconds + delay_seconds
    return judged(total <= check.max_timeout_seconds,
                  f"GNOME locks after {total} s (idle-delay {idle_seconds} + lock-delay {delay_seconds}); "
                  f"at most {check.max_timeout_seconds} allowed")


def _uint(text: str) -> int | None:
    match = re.fullmatch(r"(?:uint32 )?(\d+)", text.strip())
    return int(match.group(1)) if match else None


def _windows(check: ScreenLockCheck, host: Host) -> Finding:
    limit = host.registry(INACTIVITY_KEY, "InactivityTimeoutSecs")
    notes = []
    if limit is not None and isinstance(limit.data, int) and limit.data > 0:
        if limit.data <= check.max_timeout_seconds:
            return judged(True, f"machine inactivity limit {limit.data} s (at most {check.max_timeout_seconds})")
        notes.append(f"machine inactivity limit {limit.data} s")
    values = {name: host.registry(SCREENSAVER_KEY, name)
              for name in ("ScreenSaveActive", "ScreenSaverIsSecure", "ScreenSaveTimeOut")}
    data = {name: str(value.data).strip() if value is not None else None for name, value in values.items()}
    timeout = data["ScreenSaveTimeOut"]
    if data["ScreenSaveActive"] == "1" and data["ScreenSaverIsSecure"] == "1" and timeout and timeout.isdigit():
        seconds = int(timeout)
        if seconds <= check.max_timeout_seconds:
            return judged(True, f"screen saver policy locks after {seconds} s (at most {check.max_timeout_seconds})")
        notes.append(f"screen saver policy locks after {seconds} s")
    elif any(value is not None for value in data.values()):
        notes.append("screen saver policy set but not active, secure and timed "
                     f"(active={data['ScreenSaveActive']}, secure={data['ScreenSaverIsSecure']}, timeout={timeout})")
    return judged(False, "; ".join(notes) + f"; at most {check.max_timeout_seconds} s allowed" if notes
                  else "neither a machine inactivity limit nor a screen saver lock policy is set")


def _macos(check: ScreenLockCheck, host: Host) -> Finding:
    status = host.run(["sysadminctl", "-screenLock", "status"])
    said = status.stdout + status.stderr
    if re.search(r"screenLock is off", said):
        return non_compliant("screen lock is off (sysadminctl)")
    if re.search(r"screenLock delay is immediate", said):
        delay = 0
    else:
        match = re.search(r"screenLock delay is (\d+) seconds", said)
        if match is None:
            return error(f"sysadminctl -screenLock status said {said.strip()[-200:]!r}")
        delay = int(match.group(1))
    idle_output = host.run(["defaults", "read", "/Library/Preferences/com.apple.screensaver", "idleTime"])
    idle_text = idle_output.stdout.strip()
    if idle_output.exit_code != 0 or not idle_text.isdigit():
        return non_compliant(f"no machine-wide screen saver idle time is set (lock delay {delay} s)")
    idle = int(idle_text)
    if idle == 0:
        return non_compliant("the screen saver never starts (idleTime 0), so the screen never locks")
    total = idle + delay
    return judged(total <= check.max_timeout_seconds, f"locks after {total} s (idle {idle} + delay {delay}); "
                                                      f"at most {check.max_timeout_seconds} allowed")
