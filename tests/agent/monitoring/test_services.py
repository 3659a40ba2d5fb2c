"""Service monitors: each OS's answer parsed from recorded output, systemd asked for real where it runs,
and the monitor's hysteresis (down on ``downSamples`` cycles in a row) and not-applicable behaviour."""

from __future__ import annotations

import json
import logging
import stat
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agent.monitoring.errors import NotApplicable
from agent.monitoring.probes import Probes, VolumeUsage
from agent.monitoring.services import (
    SYSTEMD_BOOTED,
    ServiceState,
    ServiceStates,
    launchd_service_states,
    parse_systemctl_show,
    systemd_service_states,
    windows_service_states,
)
from agent.monitoring.watching import Monitors
from schemas.monitoring import MonitorSettings

FIXTURES = Path(__file__).parent / "fixtures"
SYSTEMD_NAMES = ["ssh", "cron", "nginx", "sshd", "getty@tty1.service"]


@pytest.mark.parametrize(("name", "running", "state"), [
    pytest.param("ssh", True, "active (running)", id="running"),
    pytest.param("cron", False, "failed (failed)", id="failed"),
    pytest.param("nginx", False, "not found", id="not-installed"),
    pytest.param("sshd", True, "active (running)", id="alias-answers-with-its-unit"),
    pytest.param("getty@tty1.service", False, "activating (auto-restart)", id="restart-loop"),
])
def test_systemctl_show_output(name: str, running: bool, state: str) -> None:
    states = parse_systemctl_show(SYSTEMD_NAMES, (FIXTURES / "systemctl-show.txt").read_text())
    assert states[name] == ServiceState(running, state)


def test_systemctl_output_that_does_not_match_the_question_is_an_error() -> None:
    with pytest.raises(ValueError, match="answered 5 units for 2 asked"):
        parse_systemctl_show(["a", "b"], (FIXTURES / "systemctl-show.txt").read_text())


def test_systemctl_is_asked_once_for_every_unit_and_never_with_an_option(tmp_path: Path) -> None:
    """A stand-in systemctl (a real executable) records its arguments and prints the recorded output."""
    argv_file = tmp_path / "argv"
    tool = tmp_path / "systemctl"
    tool.write_text(f"#!/bin/sh\nprintf '%s\\n' \"$@\" > {argv_file}\ncat {FIXTURES / 'systemctl-show.txt'}\n")
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    booted = tmp_path / "run-systemd-system"
    booted.mkdir()
    states = systemd_service_states(SYSTEMD_NAMES, booted=booted, systemctl=str(tool))
    assert argv_file.read_text().split("\n")[:-1] == [
        "show", "--no-pager", "--property=Id,LoadState,ActiveState,SubState", "--", *SYSTEMD_NAMES]
    assert [name for name, state in states.items() if not state.running] == ["cron", "nginx", "getty@tty1.service"]


def test_no_systemd_is_not_applicable(tmp_path: Path) -> None:
    with pytest.raises(NotApplicable, match="does not run systemd"):
        systemd_service_states(["ssh"], booted=tmp_path / "absent")


@pytest.mark.skipif(not SYSTEMD_BOOTED.is_dir(), reason="this machine was not booted with systemd")
def test_real_systemd_answers() -> None:
    states = systemd_service_states(["systemd-journald.service", "fleetward-no-such-unit.service"])
    assert states["systemd-journald.service"].running
    assert states["fleetward-no-such-unit.service"] == ServiceState(False, "not found")


@pytest.mark.skipif(SYSTEMD_BOOTED.is_dir(), reason="this machine runs systemd")
def test_real_machine_without_systemd_is_not_applicable() -> None:
    with pytest.raises(NotApplicable):
        systemd_service_states(["ssh"])


def test_windows_services_from_recorded_psutil_records() -> None:
    recorded = json.loads((FIXTURES / "windows-services.json").read_text())
    records = {record["name"].lower(): record for record in recorded}

    def status_of(name: str) -> str | None:  # service names are case-insensitive on Windows
        record = records.get(name.lower())
        return None if record is None else str(record["status"])

    states = windows_service_states(["Spooler", "wuauserv", "windefend", "BITS", "LanmanServer", "Nope"], status_of)
    assert {name: (state.running, state.state) for name, state in states.items()} == {
        "Spooler": (True, "running"), "wuauserv": (False, "stopped"), "windefend": (True, "running"),
        "BITS": (False, "start_pending"), "LanmanServer": (False, "paused"), "Nope": (False, "not found")}


def test_launchd_jobs_from_recorded_launchctl_list() -> None:
    states = launchd_service_states(
        ["com.openssh.sshd", "com.example.backupd", "com.apple.MENotificationService", "com.example.absent"],
        (FIXTURES / "launchctl-list.txt").read_text())
    assert states == {
        "com.openssh.sshd": ServiceState(True, "running (pid 371)"),
        "com.example.backupd": ServiceState(False, "not running (last exit 78)"),
        "com.apple.MENotificationService": ServiceState(False, "not running (last exit -9)"),
        "com.example.absent": ServiceState(False, "not loaded"),
    }


class Host:
    """A machine whose services a test switches on and off; everything else is calm."""

    def __init__(self) -> None:
        self.down: set[str] = set()
        self.asked: list[list[str]] = []
        self.applicable = True
        self.now = datetime(2026, 3, 1, 8, tzinfo=UTC)

    def states(self, names: Sequence[str]) -> ServiceStates:
        self.asked.append(list(names))
        if not self.applicable:
            raise NotApplicable("no service manager here")
        return {name: ServiceState(name not in self.down, "inactive (dead)" if name in self.down else "active")
                for name in names}

    def monitors(self, root: Path) -> Monitors:
        probes = Probes(cpu_seconds=lambda: (1.0, 10.0), memory_percent=lambda: 20.0,
                        volumes=lambda: [VolumeUsage("/", "ext4", 100, 50)], process_names=lambda: set(),
                        reboot_pending=lambda: False, service_states=self.states)
        return Monitors(root, probes=probes, clock=lambda: self.now)

    def cycle(self, monitors: Monitors, settings: MonitorSettings) -> list[tuple[str, str, str]]:
        self.now += timedelta(minutes=1)
        return [(alert.subject, alert.state, alert.severity) for alert in monitors.run(settings)
                if alert.monitor == "service"]


WATCH = MonitorSettings.model_validate({"services": {"required": ["ssh", "cron"], "severity": "warning"}})


def test_a_service_alerts_only_when_down_on_consecutive_cycles_and_clears_when_back(tmp_path: Path) -> None:
    host = Host()
    monitors = host.monitors(tmp_path)
    seen = []
    for down in ({"cron"}, set(), {"cron"}, {"cron"}, {"cron"}, set(), set()):
        host.down = down
        seen.append(host.cycle(monitors, WATCH))
    assert seen == [[], [], [], [("cron", "raised", "warning")], [], [("cron", "cleared", "warning")], []]
    assert host.asked[0] == ["ssh", "cron"]  # one question per cycle for every name


def test_the_down_count_survives_a_restart_and_down_samples_is_configurable(tmp_path: Path) -> None:
    host = Host()
    host.down = {"ssh"}
    assert host.cycle(host.monitors(tmp_path), WATCH) == []
    assert host.cycle(host.monitors(tmp_path), WATCH) == [("ssh", "raised", "warning")]  # restarted in between
    at_once = MonitorSettings.model_validate({"services": {"required": ["cron"], "downSamples": 1}})
    host.down = {"cron"}
    assert host.cycle(host.monitors(tmp_path / "other"), at_once) == [("cron", "raised", "critical")]


def test_unwatching_a_service_clears_its_alert(tmp_path: Path) -> None:
    host = Host()
    host.down = {"cron"}
    monitors = host.monitors(tmp_path)
    host.cycle(monitors, WATCH)
    assert host.cycle(monitors, WATCH) == [("cron", "raised", "warning")]
    assert host.cycle(monitors, MonitorSettings()) == [("cron", "cleared", "warning")]
    assert host.asked[-1] == ["ssh", "cron"]  # nothing watched: the OS is not asked at all
    assert len(host.asked) == 2


def test_not_applicable_raises_nothing_and_says_so_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    host = Host()
    host.applicable = False
    host.down = {"ssh", "cron"}
    monitors = host.monitors(tmp_path)
    with caplog.at_level(logging.INFO, logger="agent.monitoring.watching"):
        seen = [host.cycle(monitors, WATCH) for _ in range(4)]
    assert seen == [[], [], [], []]
    said = [record for record in caplog.records if "not applicable" in record.getMessage()]
    assert len(said) == 1 and said[0].levelno == logging.INFO and "no service manager here" in said[0].getMessage()
