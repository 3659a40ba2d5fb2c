"""Read a :class:`StatusSnapshot` from the store, in a handful of set-based queries.

Nothing here is per device: agents, managed software, per-device outcomes and recent
jobs are each one query (chunked by the store), then grouped in memory. Volatile
values are left out or bucketed (``online`` instead of a last-seen time) so that an
unchanged fleet renders identical files.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta

from controller.desired import DesiredState
from controller.reconciling import SourceHealth
from controller.status.alerting import collect_alerts
from controller.status.assets import collect_assets
from controller.status.policies import collect_policies
from controller.status.snapshot import (
    ClientReport,
    DeploymentSummary,
    DeviceReport,
    DeviceTarget,
    JobLine,
    ProposalReport,
    RevisionInfo,
    RolloutProgress,
    StatusSnapshot,
    WaveProgress,
)
from controller.status.tickets import collect_connectors
from controller.store import (
    DeploymentTargetRow,
    RevisionRow,
    RolloutRecord,
    Store,
    device_targets,
    last_applied,
    latest_jobs,
    list_agents,
    list_proposal_plans,
    list_revisions,
    list_rollouts,
    read_observed,
)

MAX_DEVICES = 100_000
REJECTED_SHOWN = 20


def _revision(row: RevisionRow) -> RevisionInfo:
    return RevisionInfo(sha=row.sha, summary=row.summary, author=row.author,
                        committed_at=row.committed_at, problems=tuple(row.problems), note=row.plan_note or "")


def _summaries(rows: Iterable[DeploymentTargetRow]) -> tuple[DeploymentSummary, ...]:
    grouped: dict[str, list[DeploymentTargetRow]] = defaultdict(list)
    for row in rows:
        grouped[row.deployment].append(row)
    summaries = []
    for ref in sorted(grouped):
        members = grouped[ref]
        counts: dict[str, int] = defaultdict(int)
        for member in members:
            counts[member.state] += 1
        first = members[0]
        scope, dot, _name = ref.rpartition(".")
        summaries.append(DeploymentSummary(
            ref=ref, client=scope if dot else None, package=first.package, ensure=first.ensure,
            version=first.version, counts=tuple(sorted(counts.items()))))
    return tuple(summaries)


def _rollouts(store: Store, applied: DesiredState | None) -> dict[str, RolloutProgress]:
    """Each deployment's stored rollout (what the API shows), with when the active wave's soak ends."""
    soak = {}
    if applied is not None:
        soak = {loaded.ref: loaded.resource.spec.rollout.soak_minutes for loaded in applied.deployments.values()}
    return {record.deployment: _progress(record, soak.get(record.deployment, 0)) for record in list_rollouts(store)}


def _progress(record: RolloutRecord, soak_minutes: int) -> RolloutProgress:
    waves = tuple(WaveProgress(wave=w["wave"], size=w["size"], succeeded=w["succeeded"], failed=w["failed"],
                               in_progress=w["inProgress"], offline=w["offline"], skipped=w["skipped"],
                               waiting=w["waiting"]) for w in record.waves)
    soaking = (record.met_at is not None and soak_minutes > 0 and not record.halted and not record.completed
               and record.wave < len(waves))
    return RolloutProgress(
        ref=record.deployment, client=record.client, wave=record.wave, waves=waves, halted=record.halted,
        reason=record.reason, completed=record.completed, rolled_back_at=record.rolled_back_at,
        soak_until=record.met_at + timedelta(minutes=soak_minutes) if soaking and record.met_at else None)


def collect_snapshot(store: Store, applied: DesiredState | None, source: SourceHealth, now: datetime,
                     *, online_window: float) -> StatusSnapshot:
    applied_row = last_applied(store)
    rejected = [row for row in list_revisions(store, REJECTED_SHOWN, "rejected")
                if applied_row is None or row.id > applied_row.id]
    agents = list_agents(store, None, limit=MAX_DEVICES)
    observed = read_observed(store, now=now)
    targets = device_targets(store, None, None)
    jobs = latest_jobs(store, None, None, per_agent=5)
    assets = collect_assets(store, now.date())
    alerting = collect_alerts(store, now)
    policies = collect_policies(store)
    rollouts = _rollouts(store, applied)

    targets_by_agent: dict[str, list[DeploymentTargetRow]] = defaultdict(list)
    targets_by_client: dict[str, list[DeploymentTargetRow]] = defaultdict(list)
    for row in targets:
        targets_by_agent[row.agent_id].append(row)
        targets_by_client[row.client].append(row)

    cutoff = now - timedelta(seconds=online_window)
    devices_by_client: dict[str, list[DeviceReport]] = defaultdict(list)
    for agent in agents:
        seen = observed.agents.get(agent.agent_id)  # type: ignore[call-overload]
        managed = tuple(sorted(seen.managed.items())) if seen is not None else ()
        devices_by_client[agent.client].append(DeviceReport(
            agent_id=agent.agent_id, client=agent.client, hostname=agent.hostname,
            online=agent.last_seen_at >= cutoff,
            labels=tuple(sorted(agent.device_labels.items())), managed=managed,
            targets=tuple(DeviceTarget(t.deployment, t.package, t.ensure, t.version, t.state, t.reason,
                                       t.installed_version) for t in targets_by_agent[agent.agent_id]),
            recent_jobs=tuple(JobLine(j.job_id, j.action, j.package, j.version, j.state, j.reason,
                                      j.finished_at) for j in jobs.get(agent.agent_id, [])),
            hardware=assets.hardware.get(agent.agent_id, ()),
            software_count=assets.software_counts.get(agent.agent_id, 0),
            alerts=alerting.device_history.get(agent.agent_id, ()),
            failing_checks=policies.failing.get(agent.agent_id, ()),
        ))

    display = {}
    if applied is not None:
        display = {name: loaded.resource.spec.display_name
                   for (_scope, name), loaded in applied.clients.items()}
    names = sorted(set(display) | set(devices_by_client))
    clients = tuple(
        ClientReport(
            name=name, display_name=display.get(name, name),
            devices=tuple(sorted(devices_by_client[name], key=lambda d: (d.hostname, d.agent_id))),
            deployments=_summaries(targets_by_client[name]),
            licences=assets.licences.get(name, ()) + assets.licences.get("*", ()),
            warranties=assets.warranties.get(name, ()),
            warranty_problems=assets.warranty_problems.get(name, ()),
            open_alerts=alerting.open_alerts.get(name, ()),
            open_tickets=alerting.open_tickets.get(name, ()),
            compliance=policies.by_client.get(name, ()),
            rollouts=tuple(rollouts[ref] for ref in sorted(
                {row.deployment for row in targets_by_client[name]}
                | {ref for ref, rollout in rollouts.items() if rollout.client == name}) if ref in rollouts),
        )
        for name in names
    )
    msp = _summaries(row for row in targets if "." not in row.deployment)
    return StatusSnapshot(
        applied=_revision(applied_row) if applied_row is not None else None,
        rejected=tuple(_revision(row) for row in rejected),
        clients=clients,
        msp_deployments=msp,
        plans=tuple(ProposalReport(row.branch, row.head, row.valid, row.markdown)
                    for row in list_proposal_plans(store)),
        source_error="" if source.ok else source.error,
        connectors=collect_connectors(store, applied, now),
        rollouts=tuple(rollouts[ref] for ref in sorted(rollouts)),
    )
