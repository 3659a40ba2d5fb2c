"""Maintenance windows on the agent: installs only inside not_before/not_after, by the agent's own clock."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from agent.executing import JobRunner
from agent.extracting import Caps
from agent.installing import ArchivePackages
from agent.state import DataDir
from agent.verifying import TrustedKeys
from schemas.jobs import JobSpec
from tests.agent.builders import AGENT_ID, NOW, Artifact, Signer, hello_tar, spec_for
from tests.agent.test_executing import RecordingSink


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def runner(data_dir: DataDir, sink: RecordingSink, signer: Signer, clock: Clock) -> JobRunner:
    packages = ArchivePackages(data_dir, clock=clock, caps=Caps(1000, 10 * 1024 * 1024),
                               allow_insecure_http=False, max_artifact_bytes=10 * 1024 * 1024)
    return JobRunner(events=sink, data_dir=data_dir, state=data_dir.load_state(), agent_id=AGENT_ID,
                     keys=TrustedKeys([signer.signing_key]), packages=packages, clock=clock)


@pytest.fixture
def v1(tmp_path: Path) -> Artifact:
    return hello_tar(tmp_path / "hello-tool-1.0.0.tar.gz")


def windowed(art: Artifact, seq: int, start: datetime, hours: int = 2) -> JobSpec:
    spec = spec_for(art, seq=seq, expires_at=start + timedelta(hours=hours))
    return spec.model_copy(update={"not_before": start, "not_after": start + timedelta(hours=hours)})


def test_an_early_job_waits_then_runs_in_its_window_even_after_later_jobs(
        data_dir: DataDir, signer: Signer, v1: Artifact, tmp_path: Path) -> None:
    sink, clock = RecordingSink(), Clock(NOW)
    agent = runner(data_dir, sink, signer, clock)
    early = signer.sign(windowed(v1, 5, NOW + timedelta(hours=3)))
    waiting = agent.handle(early)
    assert waiting.result == "waiting" and "waiting for the window" in waiting.message
    assert {job_id for job_id, _event in sink.events} == {early.job_id}
    assert [(e.phase, e.download_percent) for _id, e in sink.events] == [
        ("downloading", 0), ("downloading", 100), ("waiting-for-window", None)]
    assert "bytes (downloaded)" in sink.events[-1][1].message  # pre-staged into the download cache
    assert not (data_dir.software_dir / "hello-tool").exists()  # nothing installed outside the window
    assert data_dir.load_state().deferred == {early.job_id: 5}
    v1.path.unlink()  # from here on the install can only use the pre-staged artifact

    (tmp_path / "other").mkdir()
    later = hello_tar(tmp_path / "other" / "hello-tool-1.0.0.tar.gz")
    other = signer.sign(spec_for(later, seq=6, name="other-tool"))
    assert agent.handle(other).result == "succeeded"  # seen_seq is now 6, above the waiting job

    clock.now = NOW + timedelta(hours=3, minutes=1)
    ran = agent.handle(early)
    assert ran.result == "succeeded", ran.reason
    assert (data_dir.software_dir / "hello-tool" / "1.0.0").is_dir()
    assert data_dir.load_state().deferred == {}


def test_a_job_whose_window_closed_is_not_installed_and_not_reported(data_dir: DataDir, signer: Signer,
                                                                    v1: Artifact) -> None:
    sink = RecordingSink()
    closed = signer.sign(windowed(v1, 3, NOW - timedelta(hours=2), hours=3)
                         .model_copy(update={"not_after": NOW - timedelta(minutes=1)}))
    result = runner(data_dir, sink, signer, Clock(NOW)).handle(closed)
    assert result.result == "waiting" and "window closed" in result.reason
    assert sink.events == []
    assert not (data_dir.software_dir / "hello-tool").exists()


def test_a_job_inside_its_window_runs_at_once(data_dir: DataDir, signer: Signer, v1: Artifact) -> None:
    sink = RecordingSink()
    inside = signer.sign(windowed(v1, 2, NOW - timedelta(minutes=5)))
    assert runner(data_dir, sink, signer, Clock(NOW)).handle(inside).result == "succeeded"
