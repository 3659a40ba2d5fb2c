"""What agents say about their jobs: progress, and the result that finishes a job.

Results arrive at least once (an agent re-sends from its outbox until acknowledged),
so the same result twice is accepted and changes nothing; a *different* result for a
finished job is a :class:`~controller.errors.Conflict`. A late result for a job that
expired or was requeued-and-cancelled is still recorded: it is what happened on the
machine. An agent naming a job that is not its own gets NotFound (no hint that the
job exists) and leaves an audit row.

A failed result with ``retry_after_seconds`` (the installer said "not now") and the reboot a
result requested are kept on the job, where the planner and the deployment status read them.

When the result carries what detection found (``managed``), the device's
``managed_software`` row is updated in the same transaction, so the next plan sees
it without waiting for the next inventory.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update

from controller.errors import Conflict, NotFound
from controller.store.audit import record_audit
from controller.store.engine import Store
from controller.store.jobs import add_events
from controller.store.statements import upsert
from controller.store.tables import RESULT_STATES, agents, jobs, managed_software
from controller.store.timestamps import duration
from schemas.protocol import JobEvent

DEFAULT_LEASE_TTL = timedelta(minutes=15)
_CLOSED_WITHOUT_RESULT = ("cancelled", "expired")


def record_job_event(store: Store, agent_id: str, job_id: str, event: JobEvent, now: datetime, *,
                     lease_ttl: timedelta | float = DEFAULT_LEASE_TTL) -> str:
    """Apply one event from ``agent_id`` about ``job_id``; returns the job's state afterwards.

    ``lease_ttl`` (a timedelta or seconds) is how long a "running" report extends the lease.
    """
    with store.write() as session:
        job = session.execute(
            select(jobs.c.agent_id, jobs.c.client, jobs.c.state, jobs.c.action, jobs.c.package)
            .where(jobs.c.id == job_id).with_for_update()).one_or_none()
        if job is not None and job.agent_id == agent_id:
            if event.status in RESULT_STATES and event.status == job.state:
                return str(job.state)  # the agent re-sent a result we already have
            state = _apply(session, job_id, job, event, now, duration(lease_ttl))
            add_events(session, [{
                "job_id": job_id, "agent_id": agent_id, "client": job.client, "at": now,
                "status": event.status, "reason": event.reason, "message": event.message,
                "data": _event_data(event)}])
            return state
        reporter = session.execute(
            select(agents.c.client).where(agents.c.id == agent_id)).scalar_one_or_none()
        record_audit(session, actor=agent_id, actor_kind="agent", action="job.report-refused", target=job_id,
                     client=reporter,
                     detail={"message": f"agent {agent_id} reported on job {job_id} of another agent"
                             if job is not None else f"agent {agent_id} reported on unknown job {job_id}",
                             "status": event.status}, now=now)
    raise NotFound(f"job {job_id} is not a job of agent {agent_id}",
                   hint="report only on jobs this agent leased")


def _apply(session: Any, job_id: str, job: Any, event: JobEvent, now: datetime, lease_ttl: timedelta) -> str:
    current: str = job.state
    if event.status == "running":
        if current in ("queued", "leased", "running"):
            session.execute(update(jobs).where(jobs.c.id == job_id).values(
                state="running", leased_until=now + lease_ttl, updated_at=now))
            return "running"
        return current  # progress after the end changes nothing
    if current in RESULT_STATES:
        raise Conflict(f"job {job_id} already finished as {current}; the agent now reports {event.status}",
                       hint="the first result stands; check the agent's journal for this job")
    values: dict[str, Any] = {
        "state": event.status, "reason": event.reason, "output": event.output, "finished_at": now,
        "updated_at": now, "leased_until": None,
        # Only a failure can be retried later; a success that says so would be a confused agent.
        "retry_after_seconds": event.retry_after_seconds if event.status == "failed" else None,
        "reboot": event.reboot,
    }
    if current in _CLOSED_WITHOUT_RESULT:
        values["reason"] = f"{event.reason} (reported after the job was {current})".strip()
    session.execute(update(jobs).where(jobs.c.id == job_id).values(values))
    _record_managed(session, job, event, now)
    return event.status


def _record_managed(session: Any, job: Any, event: JobEvent, now: datetime) -> None:
    managed = event.managed
    if managed is not None:
        upsert(session, managed_software, [{
            "agent_id": job.agent_id, "package": managed.package, "client": job.client,
            "version": managed.version, "sha256": managed.sha256, "installed_at": managed.installed_at,
            "reported_at": now}],
            keys=("agent_id", "package"), update=("version", "sha256", "installed_at", "reported_at"))
    elif event.status == "succeeded" and job.action == "uninstall":
        session.execute(delete(managed_software).where(
            managed_software.c.agent_id == job.agent_id, managed_software.c.package == job.package))


def _event_data(event: JobEvent) -> dict[str, Any] | None:
    data: dict[str, Any] = {}
    if event.action is not None:
        data["action"] = event.action
    if event.managed is not None:
        data["managed"] = event.managed.model_dump(mode="json")
    for key in ("started_at", "finished_at"):
        moment = getattr(event, key)
        if moment is not None:
            data[key] = moment.isoformat()
    for key in ("phase", "download_percent", "rolled_back_to", "retry_after_seconds", "reboot"):
        if getattr(event, key) is not None:
            data[key] = getattr(event, key)
    return data or None
