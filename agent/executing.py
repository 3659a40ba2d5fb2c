"""Taking one leased job from "received" to "result delivered", exactly once locally.

For each :class:`SignedJob` the runner asks :func:`agent.verifying.classify`
what to do, then:

run
    send a ``running`` event (best effort), execute, journal the result, raise
    ``seen_seq``, deliver the result;
resend
    the job finished before and its report was lost: deliver the journalled
    result again, execute nothing;
refuse
    journal and deliver a ``refused`` event with the reason.

The order (journal, then ``seen_seq``, then delivery) means a crash at any point
leads to a re-send, never to a second execution. Delivery failures leave the
result in the outbox (:mod:`agent.journal`), which :meth:`JobRunner.flush_outbox`
retries. A result the controller refuses for good (a 4xx other than 401) is
logged and dropped from the outbox: re-sending it could never succeed.
A 401 stops everything (:class:`CredentialRejected` propagates).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from agent.errors import JobRefused, ProtocolError, TemporaryError
from agent.installing import ArchivePackages, Packages
from agent.journal import Journal, JournalEntry, is_safe_job_id
from agent.state import AgentState, DataDir
from agent.verifying import TrustedKeys, classify
from schemas.jobs import JobSpec, SignedJob
from schemas.protocol import JobEvent, JobEventAck

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
ResultStatus = Literal["succeeded", "failed", "refused"]


class EventSink(Protocol):
    """Where job events go: the controller (:class:`~agent.connection.ControllerConnection`)."""

    def send_event(self, job_id: str, event: JobEvent) -> JobEventAck: ...


@dataclass(frozen=True)
class JobResult:
    """One job as the CLI reports it."""

    job_id: str
    result: ResultStatus
    action: str | None = None
    package: str | None = None
    version: str | None = None
    reason: str = ""
    message: str = ""
    resent: bool = False
    """The result came from the journal; nothing was executed this time."""
    delivered: bool = False
    """The controller acknowledged the result."""


class JobRunner:
    def __init__(
        self,
        *,
        events: EventSink,
        data_dir: DataDir,
        state: AgentState,
        agent_id: str,
        keys: TrustedKeys,
        packages: Packages | ArchivePackages,
        clock: Clock,
    ) -> None:
        self.events = events
        self.data_dir = data_dir
        self.state = state
        self.agent_id = agent_id
        self.keys = keys
        self.packages = packages
        self.clock = clock
        self.journal = Journal(data_dir.journal_dir)

    def handle(self, job: SignedJob) -> JobResult:
        if not is_safe_job_id(job.job_id):
            # It cannot be journalled or even addressed in a URL; the controller never issues such ids.
            log.warning("ignoring a leased job with an unusable id %r", job.job_id[:100])
            return JobResult(job.job_id[:100], "refused", reason="unusable job id")
        entry = self.journal.get(job.job_id)
        decision = classify(job, keys=self.keys, agent_id=self.agent_id, seen_seq=self.state.seen_seq,
                            in_journal=entry is not None and entry.verified, now=self.clock())
        spec = decision.spec
        if decision.verdict == "resend" and entry is not None:
            log.info("job %s finished before; re-sending its result", job.job_id)
            return self._result(job.job_id, spec, entry.event, self._deliver(entry), resent=True)
        if decision.verdict == "refuse":
            return self._refuse(job, spec, decision.reason)
        assert spec is not None
        try:
            self.packages.check(spec)
        except JobRefused as refused:
            return self._refuse(job, spec, refused.message)
        return self._run(spec)

    def _run(self, spec: JobSpec) -> JobResult:
        started = self.clock()
        log.info("job %s: %s %s %s", spec.job_id, spec.action, spec.package.name, spec.package.version)
        self._send_quietly(spec.job_id, JobEvent(status="running", action=spec.action, started_at=started))
        try:
            outcome = self.packages.execute(spec)
            event = JobEvent(status=outcome.status, reason=outcome.reason[:2000],
                             message=outcome.message[:2000], action=spec.action,
                             managed=outcome.managed, output=outcome.output,
                             started_at=started, finished_at=self.clock())
        except JobRefused as refused:
            return self._refuse_spec(spec, refused.message)
        except Exception as exc:  # a bug must cost one job, not the agent
            log.exception("job %s: unexpected error", spec.job_id)
            reason = f"internal agent error: {type(exc).__name__}: {exc}"
            event = JobEvent(status="failed", reason=reason[:2000], message=f"{spec.action} failed",
                             action=spec.action,
                             started_at=started, finished_at=self.clock())
        entry = self._finish(spec.job_id, spec.seq, event, verified=True)
        return self._result(spec.job_id, spec, event, self._deliver(entry))

    def _refuse(self, job: SignedJob, spec: JobSpec | None, reason: str) -> JobResult:
        if spec is not None:
            return self._refuse_spec(spec, reason)
        log.warning("job %s refused: %s", job.job_id, reason)
        event = JobEvent(status="refused", reason=reason[:2000], message="refused", finished_at=self.clock())
        entry = self._finish(job.job_id, None, event, verified=False)
        return self._result(job.job_id, None, event, self._deliver(entry))

    def _refuse_spec(self, spec: JobSpec, reason: str) -> JobResult:
        log.warning("job %s refused: %s", spec.job_id, reason)
        event = JobEvent(status="refused", reason=reason[:2000], message="refused", action=spec.action,
                         finished_at=self.clock())
        # Addressed to someone else: journal it for delivery, but it says nothing about our seq.
        ours = spec.agent_id == self.agent_id
        entry = self._finish(spec.job_id, spec.seq if ours else None, event, verified=ours)
        return self._result(spec.job_id, spec, event, self._deliver(entry))

    def _finish(self, job_id: str, seq: int | None, event: JobEvent, *, verified: bool) -> JournalEntry:
        entry = self.journal.record(job_id, seq, event, verified=verified)
        if seq is not None and seq > self.state.seen_seq:
            self.state.seen_seq = seq
            self.data_dir.save_state(self.state)
        return entry

    def _send_quietly(self, job_id: str, event: JobEvent) -> None:
        """Progress events are advisory: only a rejected credential stops the job."""
        try:
            self.events.send_event(job_id, event)
        except (TemporaryError, ProtocolError) as exc:
            log.info("job %s: could not report progress: %s", job_id, exc)

    def _deliver(self, entry: JournalEntry) -> bool:
        try:
            self.events.send_event(entry.job_id, entry.event)
        except TemporaryError as exc:
            log.info("job %s: result kept in the outbox: %s", entry.job_id, exc)
            return False
        except ProtocolError as exc:
            log.warning("job %s: the controller refused the result for good (%s); dropping it", entry.job_id,
                        exc)
        self.journal.acknowledge(entry.job_id)
        return True

    def flush_outbox(self) -> list[str]:
        """Re-send every unacknowledged result; the ids delivered now."""
        delivered = []
        for entry in self.journal.outbox():
            if self._deliver(entry):
                delivered.append(entry.job_id)
            else:
                break  # the controller is unreachable; the rest waits for the next cycle
        return delivered

    @staticmethod
    def _result(job_id: str, spec: JobSpec | None, event: JobEvent, delivered: bool, *,
                resent: bool = False) -> JobResult:
        # Only final events are journalled; a "running" one here would be a bug, not a result.
        assert event.status != "running", f"job {job_id}: a progress event is not a result"
        result: ResultStatus = event.status
        return JobResult(
            job_id=job_id, result=result,
            action=spec.action if spec else None,
            package=spec.package.name if spec else None,
            version=spec.package.version if spec else None,
            reason=event.reason, message=event.message, resent=resent, delivered=delivered,
        )
