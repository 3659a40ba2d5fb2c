"""The service loop: spacing with jitter, backoff, Retry-After, long-poll follow-ups, clean stops."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from agent.cycle import Cycle
from agent.errors import CredentialRejected
from agent.looping import Backoff, ServiceLoop, jittered
from agent.settings import AgentSettings
from agent.state import DataDir
from schemas.protocol import Facts
from tests.agent.builders import Signer, make_spec
from tests.agent.collectors import quiet
from tests.agent.conftest import command, run_cli, subprocess_env
from tests.agent.servers import StubController, error

FACTS = Facts(hostname="pc-1", os="linux")


def _loop(settings: AgentSettings, waits: list[float], cycles: int) -> ServiceLoop:
    """A loop that records its pauses instead of sleeping and stops after ``cycles`` cycles."""
    cycle = Cycle(settings, collectors=quiet(FACTS))
    return ServiceLoop(settings, cycle, rng=random.Random(7), wait=waits.append, max_cycles=cycles)


def test_backoff_grows_exponentially_with_full_jitter_up_to_the_cap() -> None:
    backoff = Backoff(cap=300, rng=random.Random(1))
    ceilings = [min(300, 2 ** attempt) for attempt in range(12)]
    delays = [backoff.next_delay() for _ in ceilings]
    assert all(0 <= delay <= ceiling for delay, ceiling in zip(delays, ceilings, strict=True))
    assert max(delays[9:]) > 64  # it really grows
    backoff.reset()
    assert backoff.next_delay() <= 1


def test_intervals_are_jittered_by_twenty_percent_below_the_interval() -> None:
    rng = random.Random(3)
    samples = [jittered(100, rng) for _ in range(500)]
    assert 80 <= min(samples) < 85 and 95 < max(samples) <= 100


def test_retry_after_is_honoured(enrolled: DataDir, settings: AgentSettings,
                                 controller: StubController) -> None:
    controller.overrides["/checkin"] = [error(429, "rate_limited", "slow down", **{"Retry-After": "42"})]
    waits: list[float] = []
    _loop(settings, waits, cycles=3).run()
    assert waits[0] >= 42  # at least what the controller asked, whatever the backoff drew
    assert 48 <= waits[1] <= 60  # then the normal interval (60 s, up to 20 % less)


def test_errors_back_off_instead_of_hammering(enrolled: DataDir, settings: AgentSettings,
                                              controller: StubController) -> None:
    controller.overrides["/checkin"] = [error(500, "internal_error", "oops") for _ in range(3)]
    waits: list[float] = []
    _loop(settings, waits, cycles=4).run()
    assert len(waits) == 3
    assert all(0 < wait <= ceiling for wait, ceiling in zip(waits, [1, 2, 4], strict=True))
    assert len(controller.calls("/checkin")) == 4


def test_after_running_jobs_the_next_cycle_long_polls_at_once(enrolled: DataDir, settings: AgentSettings,
                                                              controller: StubController,
                                                              signer: Signer) -> None:
    controller.jobs = [signer.sign(make_spec(seq=1, action="uninstall"))]
    waits: list[float] = []
    _loop(settings, waits, cycles=3).run()
    leases = controller.calls("/jobs/lease")
    assert [lease["wait_seconds"] for lease in leases] == [0, settings.long_poll_seconds]
    assert len(waits) == 1  # no pause between the job cycle and its follow-up


def test_a_rejected_credential_ends_the_loop(enrolled: DataDir, settings: AgentSettings,
                                             controller: StubController) -> None:
    controller.credential = "rotated"
    with pytest.raises(CredentialRejected):
        _loop(settings, [], cycles=5).run()
    assert len(controller.calls("/checkin")) == 1


@pytest.mark.parametrize("signum", [pytest.param(signal.SIGTERM, id="SIGTERM"),
                                    pytest.param(signal.SIGINT, id="SIGINT")])
def test_the_service_stops_cleanly_on_a_signal(controller: StubController, tmp_path: Path,
                                               signum: signal.Signals) -> None:
    data = tmp_path / "data"
    assert run_cli("enroll", "--server", controller.base, "--token", controller.token,
                   "--data-dir", str(data)).returncode == 0
    service = subprocess.Popen([*command(), "run", "--data-dir", str(data)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=subprocess_env())
    try:
        deadline = time.monotonic() + 15
        while not controller.calls("/checkin") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert controller.calls("/checkin"), "the service never checked in"
        time.sleep(0.2)  # let it settle into its wait
        service.send_signal(signum)
        _out, err = service.communicate(timeout=10)
    finally:
        if service.poll() is None:
            service.kill()
            service.communicate()
    assert service.returncode == 0, err
    assert "stopping" in err
    assert json.loads((data / "state.json").read_text())["checkin_interval_seconds"] == 60
