"""``process`` checks: a process with this name is (or is not) running, on every OS via psutil.

Names compare as the OS shows them; on Windows case-insensitively and with or without ``.exe``
(the monitors' :func:`agent.monitoring.probes.process_names` already lists both forms).
"""

from __future__ import annotations

from agent.policies.checks.host import Host
from agent.policies.checks.results import Finding, judged
from schemas.checks import ProcessCheck


def evaluate_process(check: ProcessCheck, host: Host) -> Finding:
    names = host.processes()
    if host.os == "windows":
        wanted = check.process.lower()
        running = any(name.lower() in (wanted, f"{wanted}.exe") for name in names)
    else:
        running = check.process in names
    said = "is running" if running else "is not running"
    return judged(running == check.running, f"process {check.process!r} {said}")
