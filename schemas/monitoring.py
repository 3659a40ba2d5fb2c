"""Monitor settings: what an agent watches on its machine and when it raises an alert.

Written in git (``fleet.yaml`` ``spec.defaults.monitors``, overridden field by field per client
in ``client.yaml`` ``spec.monitors`` and per device group in a DeviceGroup's ``spec.monitors``) and
served to agents inside ``GET /api/agent/v1/config``. Every monitor raises at a threshold and clears only once
the value is back past the threshold by ``clearMargin…``: a value hovering at the
threshold does not flap between raised and cleared.

The defaults are meant to be sane on any fleet: CPU or memory above 90 % for 10 minutes,
disk free below 10 % (warning) or 5 % (critical), a pending reboot as info, an agent silent for
30 minutes as warning. Nothing process- or service-specific is watched unless one is listed.

``agentOffline`` is the one monitor the controller runs itself (an agent that is off cannot
say so); it sits here so it is set, and overridden, exactly like the others.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from schemas.resources import SpecModel

AlertSeverity = Literal["info", "warning", "critical"]
MonitorName = Literal["cpu", "memory", "disk", "process", "service", "reboot"]

Percent = Annotated[float, Field(gt=0, le=100)]
Margin = Annotated[float, Field(ge=0, le=50)]
ServiceName = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9@._:\-\\ ]*$")]
"""A systemd unit, Windows service or launchd label; never an option (no leading '-' reaches a command)."""


class SustainedLoad(SpecModel):
    """A percentage (CPU busy, memory used) that alerts only when high for ``minutes`` on end."""

    enabled: bool = True
    warning_percent: Percent = 90.0
    critical_percent: Percent | None = Field(
        default=None, description="Optional second level; must be above warningPercent.")
    minutes: int = Field(default=10, ge=1, le=24 * 60, description="How long the value must stay above.")
    clear_margin_percent: Margin = Field(
        default=5.0, description="Clear only once the value is this far below the threshold.")

    @model_validator(mode="after")
    def _levels(self) -> SustainedLoad:
        if self.critical_percent is not None and self.critical_percent <= self.warning_percent:
            raise ValueError(f"criticalPercent ({self.critical_percent}) must be above warningPercent "
                             f"({self.warning_percent}); drop it to alert at one level only")
        return self


class DiskSpace(SpecModel):
    """Free space per volume. A volume alerts when below the percent OR the absolute threshold."""

    enabled: bool = True
    warning_free_percent: Percent = 10.0
    critical_free_percent: Percent = 5.0
    warning_free_gib: float | None = Field(default=None, ge=0, le=1_000_000)
    critical_free_gib: float | None = Field(default=None, ge=0, le=1_000_000)
    clear_margin_percent: Margin = Field(
        default=2.0, description="Clear only once free space is this many points above the threshold.")
    ignore_mounts: list[Annotated[str, Field(min_length=1, max_length=500)]] = Field(
        default_factory=list, max_length=100, description="Mount points never checked (e.g. /mnt/backup).")

    @model_validator(mode="after")
    def _levels(self) -> DiskSpace:
        if self.critical_free_percent > self.warning_free_percent:
            raise ValueError(f"criticalFreePercent ({self.critical_free_percent}) must not be above "
                             f"warningFreePercent ({self.warning_free_percent}): critical means less free space")
        if (self.critical_free_gib is not None and self.warning_free_gib is not None
                and self.critical_free_gib > self.warning_free_gib):
            raise ValueError(f"criticalFreeGib ({self.critical_free_gib}) must not be above "
                             f"warningFreeGib ({self.warning_free_gib})")
        return self


class ProcessWatch(SpecModel):
    """Processes that must be running; each missing one is its own alert."""

    enabled: bool = True
    required: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=list, max_length=100, description="Process names as the OS shows them (e.g. sshd).")
    severity: AlertSeverity = "critical"


class ServiceWatch(SpecModel):
    """OS services that must be running: systemd units, Windows services, launchd labels.

    A service alerts once it was seen down on ``downSamples`` cycles in a row, so a restart
    caught mid-way raises nothing; it clears on the first cycle it runs again.
    """

    enabled: bool = True
    required: list[ServiceName] = Field(
        default_factory=list, max_length=100,
        description="Service names: 'ssh.service' (or 'ssh') on Linux, 'Spooler' on Windows, "
                    "'com.openssh.sshd' on macOS. Names a machine does not have are reported as down.")
    severity: AlertSeverity = "critical"
    down_samples: int = Field(default=2, ge=1, le=60,
                              description="Consecutive cycles a service must be down before it alerts.")


class RebootPending(SpecModel):
    enabled: bool = True
    severity: AlertSeverity = "info"


class AgentOffline(SpecModel):
    """Checked by the controller: an agent whose last check-in is older than ``afterMinutes``."""

    enabled: bool = True
    after_minutes: int = Field(default=30, ge=5, le=30 * 24 * 60,
                               description="Minutes without a check-in before the agent counts as offline.")
    severity: AlertSeverity = "warning"


class MonitorSettings(SpecModel):
    """Which monitors run and their thresholds. Omitted parts keep their defaults."""

    cpu: SustainedLoad = Field(default_factory=SustainedLoad)
    memory: SustainedLoad = Field(default_factory=SustainedLoad)
    disk: DiskSpace = Field(default_factory=DiskSpace)
    processes: ProcessWatch = Field(default_factory=ProcessWatch)
    services: ServiceWatch = Field(default_factory=ServiceWatch)
    reboot_pending: RebootPending = Field(default_factory=RebootPending)
    agent_offline: AgentOffline = Field(default_factory=AgentOffline)


def overlay(base: MonitorSettings, override: MonitorSettings | None) -> MonitorSettings:
    """``base`` with every field ``override`` sets explicitly replacing it, nested field by field.

    A client that writes only ``disk: {warningFreePercent: 20}`` keeps the Fleet's CPU, memory and
    the rest of its disk settings. Raises ``ValueError`` when the combination is inconsistent
    (e.g. the client's critical level above the Fleet's warning level).
    """
    if override is None:
        return base
    merged = _merge(base.model_dump(), override.model_dump(exclude_unset=True))
    return MonitorSettings.model_validate(merged)


def _merge(base: dict[str, object], changes: dict[str, object]) -> dict[str, object]:
    result = dict(base)
    for key, value in changes.items():
        below = result.get(key)
        if isinstance(value, dict) and isinstance(below, dict):
            result[key] = _merge(below, value)
        else:
            result[key] = value
    return result
