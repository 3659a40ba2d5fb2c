"""Rollout state per deployment, its history, and what a rollback returns each device to.

``deployment_rollouts`` holds what the last full reconcile concluded (active wave, halted and
why, the per-wave roll-up), keyed by the deployment's spec digest so a new revision of the
Deployment starts afresh. ``deployment_history`` is append-only: every transition with who did
it (the commit author for a new rollout, the API token for a rollback or an ad-hoc deploy, the
reconciler for waves and halts), what and when.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from controller.desired import DesiredState
from controller.errors import Conflict
from controller.observed import PriorVersion, RolloutState
from controller.planning.rollouts import RolloutReport
from controller.store.audit import ActorKind, record_audit
from controller.store.engine import Store
from controller.store.statements import chunks, upsert
from controller.store.tables import (
    deployment_history,
    deployment_rollouts,
    deployment_schedules,
    hardware_inventory,
    job_events,
    jobs,
)
from schemas.ids import AgentId
from schemas.packages import parse_installer
from schemas.windows import MaintenanceWindow

TOUCHED_STATES = ("leased", "running", "succeeded", "failed", "refused")
"""A job in one of these states reached its device: the device was touched by the rollout."""
MAX_HISTORY_PAGE = 500


class HistoryEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    deployment: str
    at: datetime
    actor: str
    actor_kind: str
    action: str
    wave: int | None
    detail: str
    revision: str | None


class RolloutRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    deployment: str
    client: str | None = None
    """The Deployment's client; None for an MSP-wide one."""
    wave: int
    """1-based: the active wave."""
    waves: list[dict[str, Any]]
    """Per wave: wave, size, succeeded, failed, inProgress, offline, skipped, waiting (last full reconcile)."""
    halted: bool
    reason: str
    rolled_back_at: datetime | None
    completed: bool
    started_at: list[datetime]
    met_at: datetime | None = None
    """When the active wave met its success threshold: its soak started then."""
    updated_at: datetime


def _state(row: Any) -> RolloutState:
    return RolloutState(digest=row.digest, wave=row.wave,
                        started_at=tuple(datetime.fromisoformat(text) for text in row.started_at),
                        cutoffs=tuple(row.cutoffs), met_at=row.met_at, halted=row.halted, reason=row.reason,
                        rolled_back=row.rolled_back_at is not None, completed=row.completed)


def read_rollout_states(session: Session) -> tuple[dict[str, RolloutState], dict[str, datetime]]:
    """Every stored rollout state, and when each rolled-back one was rolled back."""
    states: dict[str, RolloutState] = {}
    rolled_back: dict[str, datetime] = {}
    for row in session.execute(select(*deployment_rollouts.c)):
        states[row.deployment] = _state(row)
        if row.rolled_back_at is not None:
            rolled_back[row.deployment] = row.rolled_back_at
    return states, rolled_back


def read_prior_versions(session: Session, rolled_back: Mapping[str, datetime], states: Mapping[str, RolloutState],
                        agent_ids: Collection[str] | None) -> dict[str, dict[AgentId, PriorVersion]]:
    """For each rolled-back deployment: the devices its rollout touched and the version each had before.

    A device's prior version is the ``previous_version`` of the first job of the rollout that
    reached it; the installer for that version is the one of the latest job that installed it
    successfully on any device (the controller keeps every job's installer).
    """
    found: dict[str, dict[AgentId, PriorVersion]] = {}
    for deployment, at in rolled_back.items():
        started = states[deployment].started_at[0]
        query = (select(jobs.c.agent_id, jobs.c.package, jobs.c.previous_version)
                 .where(jobs.c.deployment == deployment, jobs.c.created_at >= started, jobs.c.created_at < at,
                        jobs.c.action != "uninstall", jobs.c.state.in_(TOUCHED_STATES))
                 .order_by(jobs.c.created_at.desc()))
        if agent_ids is not None:
            query = query.where(jobs.c.agent_id.in_(list(agent_ids)))
        priors: dict[str, tuple[str, str | None]] = {}
        for agent_id, package, previous in session.execute(query):
            priors[agent_id] = (package, previous)  # newest first, so the first job wins
        wanted = {(package, version) for package, version in priors.values() if version is not None}
        installers: dict[tuple[str, str], Any] = {}
        for batch in chunks(sorted({version for _package, version in wanted})):
            for package, version, installer in session.execute(
                    select(jobs.c.package, jobs.c.version, jobs.c.installer)
                    .where(jobs.c.version.in_(batch), jobs.c.state == "succeeded",
                           jobs.c.action != "uninstall").order_by(jobs.c.finished_at)):
                installers[(package, version)] = installer  # the latest wins
        found[deployment] = {
            AgentId(agent_id): PriorVersion(
                previous, parse_installer(installers[(package, previous)])
                if previous is not None and (package, previous) in installers else None)
            for agent_id, (package, previous) in priors.items()}
    return found


def _values(report: RolloutReport, client: str | None, revision: str, now: datetime) -> dict[str, Any]:
    state = report.state
    return {"deployment": report.deployment, "client": client, "digest": state.digest, "revision": revision,
            "wave": state.wave, "started_at": [at.isoformat() for at in state.started_at],
            "cutoffs": list(state.cutoffs), "met_at": state.met_at, "halted": state.halted, "reason": state.reason,
            "completed": state.completed,
            "waves": [{"wave": w.wave + 1, "size": w.size, "succeeded": w.succeeded, "failed": w.failed,
                       "inProgress": w.in_progress, "offline": w.offline, "skipped": w.skipped,
                       "waiting": w.waiting} for w in report.waves],
            "updated_at": now}


_COMPARED = ("digest", "wave", "started_at", "cutoffs", "met_at", "halted", "reason", "completed", "waves")


def write_rollouts(store: Store, reports: Sequence[RolloutReport], desired: DesiredState, author: str,
                   now: datetime) -> list[RolloutReport]:
    """Store each rollout's state (only when it changed) and its transitions; returns the newly halted."""
    clients = {loaded.ref: loaded.scope for loaded in desired.deployments.values()}
    halted: list[RolloutReport] = []
    with store.read() as session:
        stored = {row.deployment: row for row in session.execute(select(*deployment_rollouts.c))}
    changed: list[dict[str, Any]] = []
    history: list[dict[str, Any]] = []
    for report in reports:
        if report.state.rolled_back:
            continue  # written by the rollback request; its jobs come from the plan
        values = _values(report, clients.get(report.deployment), desired.revision, now)
        before = stored.get(report.deployment)
        if before is None or any(_comparable(getattr(before, name)) != _comparable(values[name])
                                 for name in _COMPARED):
            values["rolled_back_at"] = None
            changed.append(values)
        for transition in report.transitions:
            by_git = transition.kind == "started"
            history.append({"deployment": report.deployment, "client": clients.get(report.deployment), "at": now,
                            "actor": author if by_git else "reconciler",
                            "actor_kind": "commit" if by_git else "system", "action": transition.kind,
                            "wave": transition.wave, "detail": transition.detail, "revision": desired.revision})
            if transition.kind == "halted":
                halted.append(report)
    if changed or history:
        with store.write() as session:
            upsert(session, deployment_rollouts, changed, keys=("deployment",),
                   update=tuple(name for name in changed[0] if name != "deployment") if changed else ())
            if history:
                session.execute(insert(deployment_history), history)
    return halted


def _comparable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def request_rollback(store: Store, deployment: str, *, actor: str, actor_kind: ActorKind, client: str | None,
                     reason: str, now: datetime) -> RolloutRecord:
    """Halt ``deployment``'s rollout and mark it rolled back; the next reconcile plans the jobs back.

    Conflict when nothing was rolled out yet or it is already rolled back. Recorded in the
    deployment's history and the audit log, in the same transaction.
    """
    with store.write() as session:
        row = session.execute(select(*deployment_rollouts.c)
                              .where(deployment_rollouts.c.deployment == deployment).with_for_update()).first()
        if row is None:
            raise Conflict(f"deployment {deployment} has not started a rollout yet; nothing to roll back",
                           hint="wait for the controller's next reconcile, or change the Deployment in git")
        if row.rolled_back_at is not None:
            raise Conflict(f"deployment {deployment} was already rolled back at {row.rolled_back_at.isoformat()}",
                           hint="a new revision of the Deployment in git starts a new rollout")
        why = f"rolled back by {actor}" + (f": {reason}" if reason else "")
        session.execute(update(deployment_rollouts).where(deployment_rollouts.c.deployment == deployment)
                        .values(halted=True, reason=why, rolled_back_at=now, met_at=None, updated_at=now))
        session.execute(insert(deployment_history), [{
            "deployment": deployment, "client": client, "at": now, "actor": actor, "actor_kind": actor_kind,
            "action": "rollback", "wave": row.wave + 1, "detail": why, "revision": row.revision}])
        record_audit(session, actor=actor, actor_kind=actor_kind, action="deployment.rollback", target=deployment,
                     client=client, detail={"wave": row.wave + 1, "reason": reason}, now=now)
    record = get_rollout(store, deployment)
    assert record is not None
    return record


def record_history(session: Session, *, deployment: str, client: str | None, actor: str, actor_kind: ActorKind,
                   action: str, detail: str, revision: str | None, now: datetime) -> None:
    session.execute(insert(deployment_history), [{
        "deployment": deployment, "client": client, "at": now, "actor": actor, "actor_kind": actor_kind,
        "action": action, "wave": None, "detail": detail, "revision": revision}])


def get_rollout(store: Store, deployment: str) -> RolloutRecord | None:
    with store.read() as session:
        row = session.execute(select(*deployment_rollouts.c)
                              .where(deployment_rollouts.c.deployment == deployment)).first()
    return None if row is None else _record(row)


def list_rollouts(store: Store) -> list[RolloutRecord]:
    """Every deployment's rollout as GET /api/deployments/{id}/status shows it, by deployment id."""
    with store.read() as session:
        rows = session.execute(select(*deployment_rollouts.c).order_by(deployment_rollouts.c.deployment)).all()
    return [_record(row) for row in rows]


def _record(row: Any) -> RolloutRecord:
    return RolloutRecord(deployment=row.deployment, client=row.client, wave=row.wave + 1, waves=row.waves,
                         halted=row.halted, reason=row.reason, rolled_back_at=row.rolled_back_at,
                         completed=row.completed,
                         started_at=[datetime.fromisoformat(text) for text in row.started_at],
                         met_at=row.met_at, updated_at=row.updated_at)


def list_deployment_history(store: Store, deployment: str, limit: int = 100) -> list[HistoryEntry]:
    """The latest ``limit`` transitions of ``deployment``, oldest first."""
    table = deployment_history.c
    with store.read() as session:
        rows = session.execute(select(*deployment_history.c).where(table.deployment == deployment)
                               .order_by(table.id.desc()).limit(min(limit, MAX_HISTORY_PAGE))).mappings().all()
    return [HistoryEntry.model_validate(dict(row)) for row in reversed(rows)]


def replace_schedules(session: Session, sha: str, desired: DesiredState) -> None:
    """Project the applied revision's maintenance windows: each deployment's and each client's default
    (a named window resolved to its schedule), and the named MaintenanceWindows themselves."""
    session.execute(delete(deployment_schedules))
    rows: list[dict[str, Any]] = []
    for loaded in desired.deployments.values():
        window = desired.window(loaded.resource.spec.window, loaded.scope)
        if window is not None:
            rows.append({"id": f"deployment:{loaded.ref}", "client": loaded.scope, "deployment": loaded.ref,
                         "cron": window.cron, "duration_minutes": window.duration_minutes,
                         "timezone": window.timezone, "revision": sha})
    for client in desired.clients.values():
        window = desired.window(client.resource.spec.deployment_window, client.name)
        if window is not None:
            rows.append({"id": f"client:{client.name}", "client": client.name, "deployment": None,
                         "cron": window.cron, "duration_minutes": window.duration_minutes,
                         "timezone": window.timezone or client.resource.spec.timezone, "revision": sha})
    for named in desired.of_kind(MaintenanceWindow).values():
        spec = named.resource.spec
        rows.append({"id": f"window:{named.ref}", "client": named.scope, "deployment": None, "cron": spec.cron,
                     "duration_minutes": spec.duration_minutes, "timezone": spec.timezone, "revision": sha})
    if rows:
        session.execute(insert(deployment_schedules), rows)


class DevicePhase(BaseModel):
    model_config = ConfigDict(frozen=True)

    job_id: str
    job_state: str
    phase: str | None
    download_percent: int | None
    at: datetime


def device_phases(store: Store, deployment: str, client: str | None) -> dict[str, DevicePhase]:
    """Per device of ``deployment``: its open job and the latest phase the agent reported for it."""
    query = select(jobs.c.id, jobs.c.agent_id, jobs.c.state, jobs.c.updated_at).where(
        jobs.c.deployment == deployment, jobs.c.state.in_(("queued", "leased", "running")))
    if client is not None:
        query = query.where(jobs.c.client == client)
    found: dict[str, DevicePhase] = {}
    with store.read() as session:
        open_jobs = {row.id: row for row in session.execute(query)}
        latest: dict[str, Any] = {}
        for batch in chunks(sorted(open_jobs)):
            for job_id, data, at in session.execute(
                    select(job_events.c.job_id, job_events.c.data, job_events.c.at)
                    .where(job_events.c.job_id.in_(batch), job_events.c.status == "running")
                    .order_by(job_events.c.id)):
                latest[job_id] = (data or {}, at)
    for job_id, row in open_jobs.items():
        data, at = latest.get(job_id, ({}, row.updated_at))
        found[row.agent_id] = DevicePhase(job_id=job_id, job_state=row.state, phase=data.get("phase"),
                                          download_percent=data.get("download_percent"), at=at)
    return found


class RebootPending(BaseModel):
    """A restart an install of this deployment requested and the device has not done since."""

    model_config = ConfigDict(frozen=True)

    job_id: str
    reboot: str
    """soft (needed to finish) or hard (the installer initiated one)."""
    requested_at: datetime


def pending_reboots(store: Store, deployment: str, client: str | None) -> dict[str, RebootPending]:
    """Per device of ``deployment`` whose latest successful job asked for a restart: that request,
    unless the device's hardware inventory reports a boot after it. The agent never reboots by
    itself; this is what an operator (or a reboot in the maintenance window) still has to do."""
    query = (select(jobs.c.agent_id, jobs.c.id, jobs.c.reboot, jobs.c.finished_at)
             .where(jobs.c.deployment == deployment, jobs.c.state == "succeeded")
             .order_by(jobs.c.finished_at, jobs.c.seq))
    if client is not None:
        query = query.where(jobs.c.client == client)
    latest: dict[str, Any] = {}
    with store.read() as session:
        for row in session.execute(query):
            latest[row.agent_id] = row  # the newest success decides
        wanted = {agent_id: row for agent_id, row in latest.items() if row.reboot in ("soft", "hard")}
        boots: dict[str, datetime] = {}
        for batch in chunks(sorted(wanted)):
            for agent_id, data in session.execute(select(hardware_inventory.c.agent_id, hardware_inventory.c.data)
                                                  .where(hardware_inventory.c.agent_id.in_(batch))):
                booted = ((data or {}).get("os") or {}).get("last_boot")
                if booted:
                    boots[agent_id] = datetime.fromisoformat(booted)
    found: dict[str, RebootPending] = {}
    for agent_id, row in wanted.items():
        booted_at = boots.get(agent_id)
        if booted_at is not None and _aware(booted_at) > _aware(row.finished_at):
            continue
        found[agent_id] = RebootPending(job_id=row.id, reboot=row.reboot, requested_at=row.finished_at)
    return found


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
