"""Monitors decide by behaviour: sustained load, hysteresis, disk levels, processes, reboots; memory survives
a restart and the outbox keeps alerts until the controller says it stored them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agent.monitoring.outbox import AlertOutbox
from agent.monitoring.probes import Probes, VolumeUsage, storage_volumes
from agent.monitoring.watching import Monitors
from schemas.monitoring import MonitorSettings
from schemas.protocol import AlertAck, AlertReport

GiB = 1 << 30
START = datetime(2026, 3, 1, 8, tzinfo=UTC)


@dataclass
class Machine:
    """Readings a test sets by hand; the clock moves one minute per cycle."""

    cpu: float = 10.0
    memory: float = 30.0
    free_percent: float = 50.0
    processes: set[str] = field(default_factory=lambda: {"sshd"})
    reboot: bool = False
    now: datetime = START
    busy: float = 0.0
    total: float = 0.0

    def tick(self) -> None:
        # CPU counters advance 60 s per cycle with the set percent busy.
        self.now += timedelta(minutes=1)
        self.busy += 60 * self.cpu / 100
        self.total += 60

    def probes(self) -> Probes:
        return Probes(cpu_seconds=lambda: (self.busy, self.total), memory_percent=lambda: self.memory,
                      volumes=lambda: [VolumeUsage("/", "ext4", 100 * GiB, int(self.free_percent * GiB))],
                      process_names=lambda: self.processes, reboot_pending=lambda: self.reboot)


def _monitors(tmp_path: Path, machine: Machine) -> Monitors:
    return Monitors(tmp_path, probes=machine.probes(), clock=lambda: machine.now)


def _cycle(monitors: Monitors, machine: Machine, settings: MonitorSettings) -> list[tuple[str, str, str, str]]:
    machine.tick()
    return [(alert.monitor, alert.subject, alert.state, alert.severity) for alert in monitors.run(settings)]


def test_cpu_alerts_only_when_high_for_the_whole_period_and_survives_a_restart(tmp_path: Path) -> None:
    settings = MonitorSettings.model_validate({"cpu": {"warningPercent": 90, "minutes": 5}})
    machine = Machine(cpu=95)
    monitors = _monitors(tmp_path, machine)
    seen = [_cycle(monitors, machine, settings) for _ in range(3)]
    monitors = _monitors(tmp_path, machine)  # restart: the window is on disk
    seen += [_cycle(monitors, machine, settings) for _ in range(4)]
    first = next(index for index, changes in enumerate(seen) if changes)
    # Cycle 0 only primes the counters; samples from cycle 1 on; the period is covered 5 minutes later.
    assert first == 6 and seen[first] == [("cpu", "", "raised", "warning")]
    assert all(changes == [] for changes in seen[first + 1:])


def test_a_short_spike_raises_nothing(tmp_path: Path) -> None:
    settings = MonitorSettings.model_validate({"cpu": {"minutes": 3}})
    machine = Machine(cpu=99)
    monitors = _monitors(tmp_path, machine)
    seen = []
    for percent in (99, 99, 99, 20, 99, 99, 20):
        machine.cpu = percent
        seen += _cycle(monitors, machine, settings)
    assert seen == []


def test_memory_hovering_at_the_threshold_does_not_flap(tmp_path: Path) -> None:
    settings = MonitorSettings.model_validate({"memory": {"warningPercent": 90, "minutes": 2,
                                                          "clearMarginPercent": 5}})
    machine = Machine(memory=92)
    monitors = _monitors(tmp_path, machine)
    seen = []
    for percent in (92, 92, 92, 89, 91, 88, 90, 86, 84):
        machine.memory = percent
        seen.append(_cycle(monitors, machine, settings))
    flat = [change for changes in seen for change in changes]
    assert flat == [("memory", "", "raised", "warning"), ("memory", "", "cleared", "warning")]
    assert seen[-1] == [("memory", "", "cleared", "warning")]  # only below 85 %


@pytest.mark.parametrize(("free", "expected"), [
    pytest.param([50, 9, 4, 6, 8, 11, 13], [("raised", "warning"), ("raised", "critical"), ("raised", "warning"),
                                            ("cleared", "warning")], id="warning-critical-back"),
    pytest.param([9.5, 10.5, 9.5, 11.9, 12.0], [("raised", "warning"), ("cleared", "warning")], id="hysteresis"),
])
def test_disk_levels_and_hysteresis(tmp_path: Path, free: list[float], expected: list[tuple[str, str]]) -> None:
    machine = Machine()
    monitors = _monitors(tmp_path, machine)
    seen = []
    for percent in free:
        machine.free_percent = percent
        seen += [(state, severity) for _m, _s, state, severity in _cycle(monitors, machine, MonitorSettings())]
    assert seen == expected


def test_absolute_free_space_threshold(tmp_path: Path) -> None:
    settings = MonitorSettings.model_validate({"disk": {"warningFreeGib": 30}})
    machine = Machine(free_percent=25)  # 25 GiB of 100: fine by percent, short by GiB
    assert _cycle(_monitors(tmp_path, machine), machine, settings) == [("disk", "/", "raised", "warning")]


def test_processes_reboot_and_unwatching_clear(tmp_path: Path) -> None:
    settings = MonitorSettings.model_validate({"processes": {"required": ["sshd", "cron"]}})
    machine = Machine(reboot=True)
    monitors = _monitors(tmp_path, machine)
    assert sorted(_cycle(monitors, machine, settings)) == [
        ("process", "cron", "raised", "critical"), ("reboot", "", "raised", "info")]
    machine.reboot = False
    assert _cycle(monitors, machine, settings) == [("reboot", "", "cleared", "info")]
    fewer = MonitorSettings.model_validate({"processes": {"required": ["sshd"]}})
    assert _cycle(monitors, machine, fewer) == [("process", "cron", "cleared", "critical")]


def test_a_failing_probe_skips_only_its_monitor(tmp_path: Path) -> None:
    machine = Machine(free_percent=3)

    def broken() -> list[VolumeUsage]:
        raise OSError("no disks today")

    monitors = _monitors(tmp_path, machine)
    assert _cycle(monitors, machine, MonitorSettings()) == [("disk", "/", "raised", "critical")]
    monitors.probes = Probes(machine.probes().cpu_seconds, machine.probes().memory_percent, broken,
                             machine.probes().process_names, lambda: True)
    assert _cycle(monitors, machine, MonitorSettings()) == [("reboot", "", "raised", "info")]  # disk not cleared


def test_real_volumes_skip_pseudo_filesystems() -> None:
    volumes = storage_volumes()
    assert volumes and all(volume.total_bytes > 0 for volume in volumes)
    assert not {"tmpfs", "proc", "sysfs", "devtmpfs"} & {volume.filesystem for volume in volumes}


def test_outbox_survives_a_crash_and_keeps_what_was_not_stored(tmp_path: Path) -> None:
    machine = Machine(free_percent=3, processes=set(), reboot=True)
    settings = MonitorSettings.model_validate({"processes": {"required": ["a", "b"]}})
    queued = _monitors(tmp_path, machine).run(settings)
    assert len(queued) == 4
    del queued  # "crash": nothing but the files remains
    outbox = AlertOutbox(tmp_path / "alerts")
    reports: list[AlertReport] = []

    def deliver_half(report: AlertReport) -> AlertAck:
        reports.append(report)
        return AlertAck(stored=[alert.id for alert in report.alerts[:2]])

    assert outbox.send(deliver_half, "a_1") == 2
    assert len(outbox.pending()) == 2 and reports[0].agent_id == "a_1"

    def unreachable(report: AlertReport) -> AlertAck:
        raise ConnectionError("controller down")

    with pytest.raises(ConnectionError):
        outbox.send(unreachable, "a_1")
    assert len(AlertOutbox(tmp_path / "alerts").pending()) == 2
    assert outbox.send(lambda report: AlertAck(stored=[alert.id for alert in report.alerts]), "a_1") == 2
    assert outbox.pending() == []


def test_outbox_batches_under_the_request_cap_and_is_capped(tmp_path: Path) -> None:
    machine = Machine(processes=set())
    settings = MonitorSettings.model_validate({"processes": {"required": [f"p{index:03d}" for index in range(100)]}})
    _monitors(tmp_path, machine).run(settings)
    outbox = AlertOutbox(tmp_path / "alerts", max_request_bytes=8 * 1024, max_items=60)
    outbox.put([])
    assert len(outbox.pending()) == 60  # the 40 oldest were dropped
    sizes: list[int] = []

    def deliver(report: AlertReport) -> AlertAck:
        sizes.append(len(report.model_dump_json()))
        return AlertAck(stored=[alert.id for alert in report.alerts])

    assert outbox.send(deliver, "a_1") == 60
    assert len(sizes) > 1 and max(sizes) <= 8 * 1024
