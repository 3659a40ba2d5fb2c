"""Decide which alerts to raise or clear: a pure function of readings, settings, memory and ``now``.

Sustained monitors (CPU, memory) keep a small rolling window of samples: the value counts
as above a threshold for ``minutes`` when every sample since a sample at least that old is
above it, and no gap between samples is longer than the period (the agent was off).

Services must be seen down on ``downSamples`` cycles in a row before they alert (a restart
caught mid-way is not an outage); the count lives in the memory too.

Every monitor has hysteresis: a level is *raised* at its threshold but *held* until the value
is back past the threshold by the margin, so a value hovering at the threshold neither flaps
nor re-sends. Raising a higher level, or dropping from critical to warning, re-raises the
same alert with the new severity; an alert whose subject is no longer watched (volume gone,
process removed from the settings, monitor disabled) is cleared.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field

from agent.monitoring.probes import VolumeUsage
from agent.monitoring.services import ServiceState
from schemas.monitoring import AlertSeverity, DiskSpace, MonitorName, MonitorSettings, SustainedLoad

GiB = 1 << 30
MAX_SAMPLES = 1000
MAX_SUBJECT_CHARS = 200
_RANK: dict[AlertSeverity, int] = {"info": 0, "warning": 1, "critical": 2}


class Sample(BaseModel):
    at: datetime
    value: float


class OpenAlert(BaseModel):
    monitor: MonitorName
    subject: str
    severity: AlertSeverity


class MonitorMemory(BaseModel):
    """What the monitors remember between cycles (persisted in the data dir)."""

    samples: dict[str, list[Sample]] = Field(default_factory=dict)
    cpu_counters: tuple[float, float] | None = None
    open: dict[str, OpenAlert] = Field(default_factory=dict)
    services_down: dict[str, int] = Field(default_factory=dict)
    """Consecutive cycles each watched service was seen down."""


class Readings(BaseModel):
    """One cycle's readings; None where the probe failed (that monitor then changes nothing)."""

    cpu_percent: float | None = None
    memory_percent: float | None = None
    volumes: list[VolumeUsage] | None = None
    processes: set[str] | None = None
    services: dict[str, ServiceState] | None = None
    reboot_pending: bool | None = None


class Change(BaseModel):
    monitor: MonitorName
    subject: str
    severity: AlertSeverity
    state: str
    message: str
    values: dict[str, Any]


def cpu_percent(previous: tuple[float, float] | None, current: tuple[float, float]) -> float | None:
    """Average busy percent between two (busy, total) counter readings; None without a usable pair."""
    if previous is None:
        return None
    busy, total = current[0] - previous[0], current[1] - previous[1]
    if total <= 0 or busy < 0:
        return None  # counters reset (reboot) or no time passed
    return max(0.0, min(100.0, 100.0 * busy / total))


def key_of(monitor: str, subject: str) -> str:
    return f"{monitor}:{subject}"


def evaluate(settings: MonitorSettings, readings: Readings, memory: MonitorMemory, now: datetime) -> list[Change]:
    """The raises and clears this cycle; ``memory`` is updated in place to match them."""
    wanted: dict[str, tuple[MonitorName, str, AlertSeverity | None, str, dict[str, Any]]] = {}
    untouched: set[MonitorName] = set()
    for monitor, load, value in (("cpu", settings.cpu, readings.cpu_percent),
                                 ("memory", settings.memory, readings.memory_percent)):
        name: MonitorName = "cpu" if monitor == "cpu" else "memory"
        if load.enabled and value is not None:
            window = _window(memory.samples.get(name, []), Sample(at=now, value=value), load.minutes, now)
            memory.samples[name] = window
            current = _current(memory, name, "")
            level = _sustained(load, window, value, current, now)
            label = "CPU" if name == "cpu" else "Memory"
            wanted[key_of(name, "")] = (name, "", level, f"{label} at {value:.1f}% (threshold "
                                        f"{load.warning_percent:g}% for {load.minutes} min)",
                                        {"percent": round(value, 1), "minutes": load.minutes})
        elif not load.enabled:
            memory.samples.pop(name, None)
        else:
            untouched.add(name)
    if settings.disk.enabled and readings.volumes is not None:
        for volume in readings.volumes:
            if volume.mount in settings.disk.ignore_mounts:
                continue
            subject = volume.mount[:MAX_SUBJECT_CHARS]
            level = _disk(settings.disk, volume, _current(memory, "disk", subject))
            free_percent = 100.0 * volume.free_bytes / volume.total_bytes if volume.total_bytes else 0.0
            wanted[key_of("disk", subject)] = (
                "disk", subject, level,
                f"{volume.mount} has {free_percent:.1f}% free ({volume.free_bytes / GiB:.1f} GiB of "
                f"{volume.total_bytes / GiB:.1f} GiB)",
                {"free_percent": round(free_percent, 2), "free_gib": round(volume.free_bytes / GiB, 2),
                 "total_gib": round(volume.total_bytes / GiB, 2)})
    elif settings.disk.enabled:
        untouched.add("disk")
    watch = settings.processes
    if watch.enabled and readings.processes is not None:
        for process in watch.required:
            missing = process not in readings.processes
            wanted[key_of("process", process)] = (
                "process", process, watch.severity if missing else None,
                f"process {process} is {'not running' if missing else 'running again'}", {"running": not missing})
    elif watch.enabled:
        untouched.add("process")
    _services(settings, readings, memory, wanted, untouched)
    reboot = settings.reboot_pending
    if reboot.enabled and readings.reboot_pending is not None:
        wanted[key_of("reboot", "")] = ("reboot", "", reboot.severity if readings.reboot_pending else None,
                                        "a reboot is pending" if readings.reboot_pending else "no reboot pending",
                                        {"pending": readings.reboot_pending})
    elif reboot.enabled:
        untouched.add("reboot")
    return _changes(memory, wanted, untouched)


def _services(settings: MonitorSettings, readings: Readings, memory: MonitorMemory,
              wanted: dict[str, tuple[MonitorName, str, AlertSeverity | None, str, dict[str, Any]]],
              untouched: set[MonitorName]) -> None:
    watch = settings.services
    if not watch.enabled or not watch.required:
        memory.services_down.clear()
        return
    if readings.services is None:
        untouched.add("service")  # not applicable here, or the probe failed: keep what is open
        return
    counts: dict[str, int] = {}
    for name in watch.required:
        state = readings.services.get(name, ServiceState(False, "not reported"))
        counts[name] = 0 if state.running else memory.services_down.get(name, 0) + 1
        held = _current(memory, "service", name)
        down = counts[name] >= watch.down_samples or (held is not None and not state.running)
        message = (f"service {name} is not running: {state.state}" if not state.running else
                   f"service {name} is running: {state.state}")
        wanted[key_of("service", name)] = ("service", name, watch.severity if down else None, message,
                                           {"running": state.running, "state": state.state[:200],
                                            "down_samples": counts[name]})
    memory.services_down = {name: count for name, count in counts.items() if count}


def _changes(memory: MonitorMemory, wanted: dict[str, tuple[MonitorName, str, AlertSeverity | None, str,
             dict[str, Any]]], untouched: set[MonitorName]) -> list[Change]:
    changes: list[Change] = []
    for key, (monitor, subject, level, message, values) in wanted.items():
        held = memory.open.get(key)
        if level is not None and (held is None or held.severity != level):
            memory.open[key] = OpenAlert(monitor=monitor, subject=subject, severity=level)
            changes.append(Change(monitor=monitor, subject=subject, severity=level, state="raised",
                                  message=message, values=values))
        elif level is None and held is not None:
            del memory.open[key]
            changes.append(Change(monitor=monitor, subject=subject, severity=held.severity, state="cleared",
                                  message=message, values=values))
    for key, held in list(memory.open.items()):
        if key not in wanted and held.monitor not in untouched:
            del memory.open[key]
            changes.append(Change(monitor=held.monitor, subject=held.subject, severity=held.severity,
                                  state="cleared", message=f"{held.monitor} {held.subject} is no longer watched",
                                  values={}))
    return changes


def _current(memory: MonitorMemory, monitor: str, subject: str) -> AlertSeverity | None:
    held = memory.open.get(key_of(monitor, subject))
    return held.severity if held is not None else None


def _decide(current: AlertSeverity | None, levels: Sequence[AlertSeverity], raise_at: Callable[[AlertSeverity], bool],
            hold_at: Callable[[AlertSeverity], bool]) -> AlertSeverity | None:
    """Hysteresis: the highest level raised now, or the highest level (not above the current one) still held."""
    raised = next((level for level in levels if raise_at(level)), None)
    if current is None:
        return raised
    ceiling = _RANK[current]
    held = next((level for level in levels if _RANK[level] <= ceiling and hold_at(level)), None)
    if raised is None or held is None:
        return raised or held
    return raised if _RANK[raised] >= _RANK[held] else held


def _window(samples: list[Sample], sample: Sample, minutes: int, now: datetime) -> list[Sample]:
    """Samples inside the period plus the newest one before it (the proof the period is covered)."""
    start = now - timedelta(minutes=minutes)
    ordered = sorted([*(kept for kept in samples if kept.at < now), sample], key=lambda kept: kept.at)
    inside = [kept for kept in ordered if kept.at > start]
    before = [kept for kept in ordered if kept.at <= start]
    return (before[-1:] + inside)[-MAX_SAMPLES:]


def _sustained(load: SustainedLoad, window: list[Sample], value: float, current: AlertSeverity | None,
               now: datetime) -> AlertSeverity | None:
    period = timedelta(minutes=load.minutes)
    covered = len(window) >= 2 and window[0].at <= now - period and all(
        later.at - earlier.at <= period for earlier, later in itertools.pairwise(window))
    thresholds: dict[AlertSeverity, float] = {"warning": load.warning_percent}
    if load.critical_percent is not None:
        thresholds["critical"] = load.critical_percent
    levels: list[AlertSeverity] = sorted(thresholds, key=lambda level: -_RANK[level])
    return _decide(current, levels,
                   raise_at=lambda level: covered and all(kept.value >= thresholds[level] for kept in window),
                   hold_at=lambda level: value >= thresholds[level] - load.clear_margin_percent)


def _disk(disk: DiskSpace, volume: VolumeUsage, current: AlertSeverity | None) -> AlertSeverity | None:
    free_percent = 100.0 * volume.free_bytes / volume.total_bytes

    def below(level: AlertSeverity, margin: float) -> bool:
        percent = disk.critical_free_percent if level == "critical" else disk.warning_free_percent
        gib = disk.critical_free_gib if level == "critical" else disk.warning_free_gib
        if free_percent < percent + margin:
            return True
        # The margin is in points of the volume's size for the absolute threshold too.
        return gib is not None and volume.free_bytes < gib * GiB + margin / 100.0 * volume.total_bytes

    return _decide(current, ("critical", "warning"), raise_at=lambda level: below(level, 0.0),
                   hold_at=lambda level: below(level, disk.clear_margin_percent))
