"""From leased job to delivered result: events, the journal, re-sends and the outbox."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from agent.errors import CredentialRejected, ProtocolError, ServerUnreachable
from agent.executing import JobRunner
from agent.extracting import Caps
from agent.installing import ArchivePackages
from agent.journal import Journal
from agent.state import AgentState, DataDir
from agent.verifying import TrustedKeys
from schemas.protocol import JobEvent, JobEventAck
from tests.agent.builders import AGENT_ID, NOW, Artifact, Signer, hello_tar, make_spec, spec_for


class RecordingSink:
    """An in-memory event sink: records events, or fails the way the controller connection can."""

    def __init__(self) -> None:
        self.events: list[tuple[str, JobEvent]] = []
        self.fail_with: Exception | None = None

    def send_event(self, job_id: str, event: JobEvent) -> JobEventAck:
        if self.fail_with is not None:
            raise self.fail_with
        self.events.append((job_id, event))
        return JobEventAck(job_id=job_id, state=event.status)

    def statuses(self) -> list[tuple[str, str]]:
        return [(job_id, event.status) for job_id, event in self.events]


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()


def _runner(data_dir: DataDir, sink: RecordingSink, signer: Signer,
            state: AgentState | None = None) -> JobRunner:
    packages = ArchivePackages(data_dir, clock=lambda: NOW, caps=Caps(1000, 10 * 1024 * 1024),
                               allow_insecure_http=False, max_artifact_bytes=10 * 1024 * 1024)
    return JobRunner(events=sink, data_dir=data_dir, state=state or data_dir.load_state(), agent_id=AGENT_ID,
                     keys=TrustedKeys([signer.signing_key]), packages=packages, clock=lambda: NOW)


@pytest.fixture
def v1(tmp_path: Path) -> Artifact:
    return hello_tar(tmp_path / "hello-tool-1.0.0.tar.gz")


def test_a_job_runs_reports_and_is_journalled(data_dir: DataDir, sink: RecordingSink, signer: Signer,
                                              v1: Artifact) -> None:
    spec = spec_for(v1, seq=7)
    result = _runner(data_dir, sink, signer).handle(signer.sign(spec))
    assert (result.result, result.delivered, result.resent) == ("succeeded", True, False)
    assert sink.statuses() == [(spec.job_id, "running")] * 5 + [(spec.job_id, "succeeded")]
    assert [event.phase for _id, event in sink.events[1:-1]] == ["downloading", "downloading", "installing",
                                                                  "detecting"]
    final = sink.events[-1][1]
    assert final.managed is not None and final.managed.version == "1.0.0"
    assert final.action == "install" and final.started_at == NOW and final.finished_at == NOW
    assert data_dir.load_state().seen_seq == 7  # persisted, not just in memory
    entry = Journal(data_dir.journal_dir).get(spec.job_id)
    assert entry is not None and entry.acked and entry.verified


def test_a_finished_job_leased_again_is_resent_not_rerun(data_dir: DataDir, sink: RecordingSink,
                                                         signer: Signer, v1: Artifact) -> None:
    job = signer.sign(spec_for(v1, seq=7))
    sink.fail_with = ServerUnreachable("down")  # the result is lost on the way
    first = _runner(data_dir, sink, signer).handle(job)
    assert (first.result, first.delivered) == ("succeeded", False)

    sink.fail_with = None
    v1.path.unlink()  # running it again would fail: proves it is not re-run
    again = _runner(data_dir, sink, signer).handle(job)
    assert (again.result, again.resent, again.delivered) == ("succeeded", True, True)
    assert sink.statuses() == [(job.job_id, "succeeded")]  # no second "running"
    assert Journal(data_dir.journal_dir).outbox() == []


def test_a_replay_of_a_pruned_job_is_refused(data_dir: DataDir, sink: RecordingSink, signer: Signer,
                                             v1: Artifact) -> None:
    runner = _runner(data_dir, sink, signer)
    runner.handle(signer.sign(spec_for(v1, seq=7)))
    Journal(data_dir.journal_dir).prune(keep=0)
    old = signer.sign(spec_for(v1, seq=7, job_id="j_replayed"))
    result = runner.handle(old)
    assert result.result == "refused" and "replay" in result.reason
    assert sink.statuses()[-1] == ("j_replayed", "refused")


def test_refusals_are_reported_and_do_not_run(data_dir: DataDir, sink: RecordingSink, signer: Signer,
                                              v1: Artifact) -> None:
    expired = signer.sign(spec_for(v1, seq=3, expires_at=NOW - timedelta(minutes=1)))
    result = _runner(data_dir, sink, signer).handle(expired)
    assert (result.result, result.action, result.package) == ("refused", "install", "hello-tool")
    assert "expired" in result.reason
    assert sink.statuses() == [(expired.job_id, "refused")]
    assert not (data_dir.software_dir / "hello-tool").exists()
    assert data_dir.load_state().seen_seq == 3  # a refused job is finished too


def test_a_tampered_job_is_refused_but_cannot_block_the_genuine_one(data_dir: DataDir, sink: RecordingSink,
                                                                   signer: Signer, v1: Artifact) -> None:
    genuine = signer.sign(spec_for(v1, seq=4))
    tampered = genuine.model_copy(update={"payload": genuine.payload.replace("1.0.0", "6.6.6")})
    runner = _runner(data_dir, sink, signer)
    assert runner.handle(tampered).result == "refused"
    assert data_dir.load_state().seen_seq == 0  # an unverified seq is not believed
    assert runner.handle(genuine).result == "succeeded"


def test_an_unusable_package_name_is_refused(data_dir: DataDir, sink: RecordingSink, signer: Signer) -> None:
    result = _runner(data_dir, sink, signer).handle(signer.sign(make_spec(seq=2, name="../../x")))
    assert result.result == "refused" and "DNS label" in result.reason


def test_results_wait_in_the_outbox_until_the_controller_answers(data_dir: DataDir, sink: RecordingSink,
                                                                 signer: Signer, v1: Artifact) -> None:
    runner = _runner(data_dir, sink, signer)
    sink.fail_with = ServerUnreachable("down")
    runner.handle(signer.sign(spec_for(v1, seq=1)))
    runner.handle(signer.sign(make_spec(seq=2, action="uninstall")))
    outbox = Journal(data_dir.journal_dir).outbox()
    assert [entry.job_id for entry in outbox] == [f"j_{1:032x}", f"j_{2:032x}"]
    assert runner.flush_outbox() == []

    sink.fail_with = None
    assert runner.flush_outbox() == [f"j_{1:032x}", f"j_{2:032x}"]
    assert [status for _job, status in sink.statuses()] == ["succeeded", "succeeded"]
    assert Journal(data_dir.journal_dir).outbox() == []


def test_a_result_the_controller_refuses_for_good_leaves_the_outbox(data_dir: DataDir, sink: RecordingSink,
                                                                    signer: Signer, v1: Artifact) -> None:
    sink.fail_with = ProtocolError("POST /jobs/x/events: HTTP 404 not_found", status=404, code="not_found")
    result = _runner(data_dir, sink, signer).handle(signer.sign(spec_for(v1, seq=1)))
    assert result.result == "succeeded"
    assert Journal(data_dir.journal_dir).outbox() == []


def test_a_rejected_credential_stops_the_runner(data_dir: DataDir, sink: RecordingSink, signer: Signer,
                                                v1: Artifact) -> None:
    sink.fail_with = CredentialRejected("rejected")
    with pytest.raises(CredentialRejected):
        _runner(data_dir, sink, signer).handle(signer.sign(spec_for(v1, seq=1)))
    assert not (data_dir.software_dir / "hello-tool").exists()  # it stopped before doing anything


def test_the_journal_keeps_only_recent_acknowledged_entries(data_dir: DataDir, sink: RecordingSink,
                                                            signer: Signer) -> None:
    runner = _runner(data_dir, sink, signer)
    for seq in range(1, 6):
        runner.handle(signer.sign(make_spec(seq=seq, action="uninstall")))
    journal = Journal(data_dir.journal_dir)
    assert journal.prune(keep=2) == 3
    assert journal.get(f"j_{5:032x}") is not None and journal.get(f"j_{1:032x}") is None
