"""The operator API under /api: read what the fleet looks like, scoped by the token's client.

Desired state is not written here (it lives in git). Every handler passes the
caller's client scope to the store; a token scoped to one client asking for
another gets 403, and a resource of another client is simply not found.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

from controller.api.auth import ContextDep, OperatorDep
from controller.api.problems import ApiError
from controller.store import (
    AgentPublic,
    DeploymentRecord,
    DeploymentTargetRow,
    DevicePhase,
    HistoryEntry,
    JobEventPublic,
    JobPublic,
    ManagedPackage,
    PackageRecord,
    RebootPending,
    RevisionRow,
    RolloutRecord,
    deployment_status,
    deployment_summaries,
    device_phases,
    device_targets,
    get_agent,
    get_deployment,
    get_job,
    get_rollout,
    jobs_for_agent,
    last_applied,
    list_agents,
    list_deployment_history,
    list_deployments,
    list_job_events,
    list_managed,
    list_packages,
    list_revisions,
    pending_reboots,
)

router = APIRouter(prefix="/api", tags=["operator"])


def scope(principal_client: str | None, requested: str | None) -> str | None:
    """The client a request may see: the token's scope, narrowed by a ``client`` filter."""
    if principal_client is None:
        return requested
    if requested is not None and requested != principal_client:
        raise ApiError(403, "forbidden", f"this token is scoped to client {principal_client}")
    return principal_client


class Health(BaseModel):
    status: str
    applied_revision: str | None


class AgentList(BaseModel):
    items: list[AgentPublic]


class AgentDetail(BaseModel):
    agent: AgentPublic
    managed: list[ManagedPackage]
    deployments: list[DeploymentTargetRow]
    recent_jobs: list[JobPublic]


class DeploymentItem(BaseModel):
    id: str
    client: str | None
    name: str
    package: str
    ensure: str
    version: str | None
    source: str
    revision: str
    devices: int
    converged: int
    pending: int
    running: int
    failed: int
    counts: dict[str, int]


class DeploymentList(BaseModel):
    items: list[DeploymentItem]


class WaveRollup(BaseModel):
    """One rollout wave's devices by state (from the same rows as ``devices``)."""

    wave: int | None
    """1-based; null for devices in no wave (not applicable, conflicting, overridden)."""
    devices: int
    counts: dict[str, int]


class DeploymentStatus(BaseModel):
    deployment: DeploymentItem
    devices: list[DeploymentTargetRow]
    phases: dict[str, DevicePhase]
    """Per agent id with an open job: the job and the phase (and download percentage) last reported."""
    waves: list[WaveRollup]
    rollout: RolloutRecord | None
    """Active wave, halted and why, rolled back when, and offline/skipped counts per wave."""
    history: list[HistoryEntry]
    """The latest transitions: who (commit author, API token, reconciler), what, when."""
    reboots: dict[str, RebootPending] = {}
    """Per agent id: a restart its install requested ("reboot pending") and not yet done."""


class JobDetail(BaseModel):
    job: JobPublic
    events: list[JobEventPublic]


class SourceStatus(BaseModel):
    ok: bool
    error: str
    since: datetime | None
    head: str | None


class RevisionList(BaseModel):
    source: SourceStatus
    applied: RevisionRow | None
    items: list[RevisionRow]


@router.get("/health", response_model=Health, tags=["meta"])
def health(ctx: ContextDep) -> Health:
    """Liveness; no token needed. Says which revision is applied (nothing about tenants)."""
    applied = last_applied(ctx.store)
    return Health(status="ok", applied_revision=applied.sha if applied else None)


@router.get("/agents", response_model=AgentList)
def agents(principal: OperatorDep, ctx: ContextDep,
           client: Annotated[str | None, Query(max_length=63)] = None,
           limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
           offset: Annotated[int, Query(ge=0)] = 0) -> AgentList:
    visible = scope(principal.client, client)
    return AgentList(items=list_agents(ctx.store, visible, limit=limit, offset=offset))


@router.get("/agents/{agent_id}", response_model=AgentDetail)
def agent(agent_id: str, principal: OperatorDep, ctx: ContextDep) -> AgentDetail:
    visible = principal.client
    found = get_agent(ctx.store, agent_id, visible)
    return AgentDetail(
        agent=found,
        managed=list_managed(ctx.store, agent_id, visible),
        deployments=device_targets(ctx.store, [agent_id], visible),
        recent_jobs=jobs_for_agent(ctx.store, agent_id, visible, limit=20),
    )


def _versions(packages: list[PackageRecord]) -> dict[tuple[str | None, str], str]:
    return {(package.client, package.name): package.version for package in packages}


def _item(record: DeploymentRecord, counts: dict[str, int],
          versions: dict[tuple[str | None, str], str]) -> DeploymentItem:
    version = versions.get((record.client, record.package)) or versions.get((None, record.package))
    return DeploymentItem(
        id=record.id, client=record.client, name=record.name, package=record.package,
        ensure=record.ensure, version=version if record.ensure == "present" else None,
        source=record.source, revision=record.revision, devices=sum(counts.values()),
        converged=counts.get("converged", 0), pending=counts.get("pending", 0),
        running=counts.get("running", 0), failed=counts.get("failed", 0), counts=counts,
    )


@router.get("/deployments", response_model=DeploymentList)
def deployments(principal: OperatorDep, ctx: ContextDep,
                client: Annotated[str | None, Query(max_length=63)] = None) -> DeploymentList:
    """Every deployment of the applied revision the caller may see, with devices per state."""
    visible = scope(principal.client, client)
    counts = {summary.deployment: summary.counts for summary in deployment_summaries(ctx.store, visible)}
    versions = _versions(list_packages(ctx.store, visible))
    records = [record for record in list_deployments(ctx.store, visible)
               if client is None or record.client in (None, client)]
    return DeploymentList(items=[_item(r, counts.get(r.id, {}), versions) for r in records])


@router.get("/deployments/{deployment_id}/status", response_model=DeploymentStatus)
def deployment(deployment_id: str, principal: OperatorDep, ctx: ContextDep) -> DeploymentStatus:
    """Per device: converged, pending, running, failed (with the reason), and the roll-up."""
    visible = principal.client
    record = get_deployment(ctx.store, deployment_id, visible)
    devices = deployment_status(ctx.store, deployment_id, visible)
    counts: dict[str, int] = {}
    for device in devices:
        counts[device.state] = counts.get(device.state, 0) + 1
    versions = _versions(list_packages(ctx.store, visible))
    per_wave: dict[int | None, dict[str, int]] = {}
    for device in devices:
        wave_counts = per_wave.setdefault(device.wave, {})
        wave_counts[device.state] = wave_counts.get(device.state, 0) + 1
    waves = [WaveRollup(wave=wave, devices=sum(per_wave[wave].values()), counts=dict(sorted(per_wave[wave].items())))
             for wave in sorted(per_wave, key=lambda number: (number is None, number or 0))]
    return DeploymentStatus(deployment=_item(record, dict(sorted(counts.items())), versions),
                            devices=devices, phases=device_phases(ctx.store, deployment_id, visible), waves=waves,
                            rollout=get_rollout(ctx.store, deployment_id),
                            history=list_deployment_history(ctx.store, deployment_id),
                            reboots=pending_reboots(ctx.store, deployment_id, visible))


@router.get("/jobs/{job_id}", response_model=JobDetail)
def job(job_id: str, principal: OperatorDep, ctx: ContextDep) -> JobDetail:
    return JobDetail(job=get_job(ctx.store, job_id, principal.client),
                     events=list_job_events(ctx.store, job_id, principal.client))


@router.get("/revisions", response_model=RevisionList)
def revisions(principal: OperatorDep, ctx: ContextDep,
              state: Literal["applied", "rejected"] | None = None,
              limit: Annotated[int, Query(ge=1, le=200)] = 50) -> RevisionList:
    """Applied and rejected revisions (with every problem), and whether the repository can be fetched."""
    source = ctx.source_health()
    return RevisionList(
        source=SourceStatus(ok=source.ok, error=source.error, since=source.since, head=source.head),
        applied=last_applied(ctx.store),
        items=list_revisions(ctx.store, limit, state, client=principal.client),
    )
