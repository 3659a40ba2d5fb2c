"""One monitoring pass: read the probes, decide, queue the changes, remember.

Order matters for crash safety: the changes are queued (fsynced) *before* the monitors'
memory is saved. A crash between the two repeats the same change next cycle, which the
controller treats as a no-op; the reverse order could lose an alert.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from pydantic import ValidationError

from agent.errors import ConfigError
from agent.monitoring.errors import NotApplicable
from agent.monitoring.evaluating import MonitorMemory, Readings, cpu_percent, evaluate
from agent.monitoring.outbox import AlertOutbox
from agent.monitoring.probes import Probes
from agent.state import read_json, write_json
from schemas.monitoring import MonitorSettings
from schemas.protocol import AgentAlert

log = logging.getLogger(__name__)

MEMORY_FILE = "monitors.json"
OUTBOX_FOLDER = "alerts"
T = TypeVar("T")


class Monitors:
    """The monitors of one agent data directory."""

    def __init__(self, data_root: Path, *, probes: Probes | None = None,
                 clock: Callable[[], datetime]) -> None:
        self.memory_path = data_root / MEMORY_FILE
        self.outbox = AlertOutbox(data_root / OUTBOX_FOLDER)
        self.probes = probes or Probes.system()
        self.clock = clock
        self._not_applicable: set[str] = set()

    def run(self, settings: MonitorSettings) -> list[AgentAlert]:
        """Evaluate every enabled monitor once; the alerts raised or cleared are queued and returned."""
        now = self.clock()
        memory = self._load()
        readings = self._read(memory, settings)
        changes = evaluate(settings, readings, memory, now)
        stamp = now.strftime("%Y%m%dT%H%M%S%f")
        alerts = [AgentAlert(id=f"{stamp}-{uuid.uuid4().hex[:12]}", monitor=change.monitor, subject=change.subject,
                             severity=change.severity, state="raised" if change.state == "raised" else "cleared",
                             message=change.message[:500], values=change.values, observed_at=now)
                  for change in changes]
        self.outbox.put(alerts)
        write_json(self.memory_path, memory.model_dump(mode="json"))
        for alert in alerts:
            log.info("alert %s %s %s (%s): %s", alert.state, alert.monitor, alert.subject, alert.severity,
                     alert.message)
        return alerts

    def _load(self) -> MonitorMemory:
        if not self.memory_path.is_file():
            return MonitorMemory()
        try:
            return MonitorMemory.model_validate(read_json(self.memory_path))
        except (ConfigError, ValidationError) as exc:
            # Losing the memory costs at most a re-sent raise (a no-op) or a longer wait for a sustained one.
            log.warning("monitor memory %s unreadable (%s); starting afresh", self.memory_path, exc)
            return MonitorMemory()

    def _read(self, memory: MonitorMemory, settings: MonitorSettings) -> Readings:
        counters = self._probe("cpu", self.probes.cpu_seconds)
        percent = cpu_percent(memory.cpu_counters, counters) if counters is not None else None
        if counters is not None:
            memory.cpu_counters = counters
        processes = self._probe("processes", self.probes.process_names)
        services = settings.services
        wanted = list(services.required) if services.enabled else []
        return Readings(cpu_percent=percent, memory_percent=self._probe("memory", self.probes.memory_percent),
                        volumes=self._probe("disk", self.probes.volumes),
                        processes=set(list(processes)[:100_000]) if processes is not None else None,
                        services=(self._probe("services", lambda: self.probes.service_states(wanted))
                                  if wanted else None),
                        reboot_pending=(self._probe("reboot", self.probes.reboot_pending)
                                        if settings.reboot_pending.enabled else None))

    def _probe(self, name: str, read: Callable[[], T]) -> T | None:
        """A failing probe skips its monitor this cycle instead of stopping the others; one that
        cannot apply to this machine skips it for good, said once per agent run."""
        try:
            return read()
        except NotApplicable as exc:
            if name not in self._not_applicable:
                self._not_applicable.add(name)
                log.info("monitor %s not applicable on this machine: %s", name, exc)
            return None
        except Exception as exc:  # psutil and the OS raise many kinds; none may stop the agent
            log.warning("monitor probe %s failed: %s: %s", name, type(exc).__name__, exc)
            return None
