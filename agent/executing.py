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
wait (a job with a maintenance window, checked against the agent's own clock)
    before ``not_before``: fetch the artifact into the download cache now (pre-staging, every
    installer type that downloads one, archives included), report
    ``waiting-for-window`` (a progress event, which also extends the lease) and remember the job
    id in the state; the controller offers the job again at every lease and it runs once the
    window is open. After ``not_after``: do nothing and report nothing; the controller expires
    the job at the end of its window and plans a new one for the next window.

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
from datetime import UTC, datetime
from typing import Literal, Protocol

from agent.errors import AgentError, JobRefused, ProtocolError, TemporaryError
from agent.installers.outcomes import Progress
from agent.installing import ArchivePackages, Packages
from agent.journal import Journal, JournalEntry, is_safe_job_id
from agent.state import AgentState, DataDir
from agent.verifying import TrustedKeys, classify
from schemas.jobs import JobSpec, SignedJob
from schemas.protocol import JobEvent, JobEventAck, JobPhase

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
ResultStatus = Literal["succeeded", "failed", "refused", "waiting"]


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
        seen_seq = self.state.seen_seq
        if job.job_id in self.state.deferred:  # verified before and waiting: later jobs may have finished
            seen_seq = min(seen_seq, self.state.deferred[job.job_id] - 1)
        decision = classify(job, keys=self.keys, agent_id=self.agent_id, seen_seq=seen_seq,
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
        waiting = self._outside_window(spec)
        if waiting is not None:
            return waiting
        return self._run(spec)

    def _outside_window(self, spec: JobSpec) -> JobResult | None:
        """Hold a job outside its maintenance window (by this agent's clock); None when it may run."""
        now = self.clock()
        not_before, not_after = _aware(spec.not_before), _aware(spec.not_after)
        if not_after is not None and now >= not_after:
            log.info("job %s: its window closed at %s; not installing (the controller plans the next window)",
                     spec.job_id, not_after.isoformat())
            self._forget_deferred(spec.job_id)
            return JobResult(spec.job_id, "waiting", spec.action, spec.package.name, spec.package.version,
                             reason=f"the maintenance window closed at {not_after.isoformat()}")
        if not_before is None or now >= not_before:
            return None
        first = spec.job_id not in self.state.deferred
        if first:
            self.state.deferred[spec.job_id] = spec.seq
            self.data_dir.save_state(self.state)
            message = self._prestage(spec)
            log.info("job %s waits for its window at %s; %s", spec.job_id, not_before.isoformat(), message)
        else:
            message = "artifact pre-staged"
        self._send_quietly(spec.job_id, JobEvent(status="running", action=spec.action, phase="waiting-for-window",
                                                 message=f"{message}; installs from {not_before.isoformat()}"))
        return JobResult(spec.job_id, "waiting", spec.action, spec.package.name, spec.package.version,
                         message=f"waiting for the window at {not_before.isoformat()}")

    def _prestage(self, spec: JobSpec) -> str:
        try:
            return self.packages.prestage(spec, self._progress(spec))
        except AgentError as error:  # a download that fails now is tried again when the window opens
            log.info("job %s: pre-staging failed, trying again in the window: %s", spec.job_id, error)
            return f"pre-staging failed ({error}); downloading in the window"

    def _progress(self, spec: JobSpec) -> Progress:
        def report(phase: JobPhase, percent: int | None) -> None:
            self._send_quietly(spec.job_id, JobEvent(status="running", action=spec.action, phase=phase,
                                                     download_percent=percent))
        return report

    def _forget_deferred(self, job_id: str) -> None:
        if self.state.deferred.pop(job_id, None) is not None:
            self.data_dir.save_state(self.state)

    def _run(self, spec: JobSpec) -> JobResult:
        started = self.clock()
        log.info("job %s: %s %s %s", spec.job_id, spec.action, spec.package.name, spec.package.version)
        self._send_quietly(spec.job_id, JobEvent(status="running", action=spec.action, started_at=started))
        try:
            outcome = self.packages.execute(spec, self._progress(spec))
            event = JobEvent(status=outcome.status, reason=outcome.reason[:2000],
                             message=outcome.message[:2000], action=spec.action,
                             managed=outcome.managed, output=outcome.output,
                             started_at=started, finished_at=self.clock(), rolled_back_to=outcome.rolled_back_to,
                             retry_after_seconds=outcome.retry_after_seconds, reboot=outcome.reboot or "none")
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
        waited = self.state.deferred.pop(job_id, None) is not None
        if seq is not None and seq > self.state.seen_seq:
            self.state.seen_seq = seq
            self.data_dir.save_state(self.state)
        elif waited:
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


def _aware(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment
