"""Alerts go to the controller in the cycle that raised them, right after the check-in and before jobs;
while the controller cannot take them they stay queued and go next cycle."""

from __future__ import annotations

from pathlib import Path

from agent.cycle import run_once
from agent.monitoring.probes import Probes, VolumeUsage
from agent.settings import AgentSettings
from agent.state import DataDir
from schemas.protocol import Facts
from tests.agent.builders import NOW
from tests.agent.collectors import quiet
from tests.agent.servers import StubController, error

GiB = 1 << 30
QUIET = quiet(Facts(hostname="web-01", os="linux", os_version="12", arch="x86_64"))


def _probes(free_gib: list[float]) -> Probes:
    return Probes(cpu_seconds=lambda: (1.0, 10.0), memory_percent=lambda: 20.0,
                  volumes=lambda: [VolumeUsage("/data", "ext4", 100 * GiB, int(free_gib[0] * GiB))],
                  process_names=set, reboot_pending=lambda: False)


def test_alert_sent_after_checkin_before_jobs_and_queued_while_refused(enrolled: DataDir, settings: AgentSettings,
                                                                       controller: StubController) -> None:
    free = [3.0]
    controller.overrides["/alerts"] = [error(503, "busy", "try later", **{"Retry-After": "1"})]
    first = run_once(settings, clock=lambda: NOW, collectors=QUIET, probes=_probes(free))
    assert first.alerts_raised == ["raised disk /data"]
    assert (first.alerts_sent, first.alerts_queued) == (0, 1)
    paths = [path for path, _h, _b in controller.requests]
    assert paths[:3] == ["/checkin", "/alerts", "/jobs/lease"]
    assert controller.alerts == []

    second = run_once(settings, clock=lambda: NOW, collectors=QUIET, probes=_probes(free))
    assert (second.alerts_raised, second.alerts_sent, second.alerts_queued) == ([], 1, 0)
    (alert,) = controller.alerts
    assert (alert["monitor"], alert["subject"], alert["severity"], alert["state"]) == (
        "disk", "/data", "critical", "raised")
    assert alert["values"]["free_gib"] == 3.0

    free[0] = 50.0
    third = run_once(settings, clock=lambda: NOW, collectors=QUIET, probes=_probes(free))
    assert third.alerts_raised == ["cleared disk /data"] and controller.alerts[-1]["state"] == "cleared"
    assert third.as_json()["alerts"] == {"changed": ["cleared disk /data"], "sent": 1, "queued": 0}


def test_nothing_to_say_sends_nothing(enrolled: DataDir, settings: AgentSettings, controller: StubController,
                                     tmp_path: Path) -> None:
    run_once(settings, clock=lambda: NOW, collectors=QUIET, probes=_probes([80.0]))
    assert controller.calls("/alerts") == []
