"""Per device and package: what the deployments want, and what must happen to get there.

``Desire`` is one deployment's wish for one package on one device. When several
deployments touch the same package on a device, the most specific scope wins
(a client's deployment over an MSP-wide one); deployments of the same scope
that disagree are a conflict, and nothing is issued for that package there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from controller.desired import Scope
from controller.observed import ObservedAgent, OpenJob
from controller.planning.plans import Cancellation, DeviceOutcome, JobIntent, OutcomeState
from controller.planning.retrying import RetryPolicy
from schemas.jobs import JobAction
from schemas.packages import Package


@dataclass(frozen=True)
class Desire:
    deployment: str
    scope: Scope
    package: Package
    ensure: Literal["present", "absent"]
    suspended: bool
    version: str
    """The package's version, copied out because the planner reads it for every device."""


@dataclass
class Decision:
    """What the planner concluded, accumulated over (device, package) pairs."""

    jobs: list[JobIntent]
    cancellations: list[Cancellation]
    outcomes: list[DeviceOutcome]


def _winners(desires: Sequence[Desire]) -> tuple[list[Desire], list[Desire]]:
    """Split into (deciding, overridden): client-scoped desires beat MSP-wide ones."""
    client_scoped = [d for d in desires if d.scope is not None]
    if client_scoped:
        return client_scoped, [d for d in desires if d.scope is None]
    return list(desires), []


def decide(
    agent: ObservedAgent,
    package_name: str,
    desires: Sequence[Desire],
    now: datetime,
    retry: RetryPolicy,
    decision: Decision,
) -> None:
    """Decide one package on one device, appending to ``decision``. ``desires`` is sorted by id."""
    installed = agent.managed.get(package_name)
    open_jobs = [job for job in agent.open_jobs if job.package == package_name] if agent.open_jobs else []
    if len(desires) == 1:
        deciding: Sequence[Desire] = desires
        overridden: Sequence[Desire] = ()
    else:
        deciding, overridden = _winners(desires)

    for desire in overridden:
        winner = deciding[0].deployment
        decision.outcomes.append(_outcome(agent, package_name, installed, desire, "overridden",
                                          f"decided by deployment {winner}"))

    if len(deciding) > 1:
        wants = {(d.ensure, d.version if d.ensure == "present" else "") for d in deciding}
        if len(wants) > 1:
            names = ", ".join(d.deployment for d in deciding)
            for desire in deciding:
                decision.outcomes.append(_outcome(
                    agent, package_name, installed, desire, "conflict",
                    f"deployments {names} want different things for {package_name}"))
            return

    lead = deciding[0]
    if not open_jobs and lead.ensure == "present" and installed == lead.version:
        state: OutcomeState = "converged"  # the common case, kept cheap
        reason, action = "", None
    else:
        state, reason, action, job, cancel = _decide_one(agent, lead, installed, open_jobs, now, retry)
        if job is not None:
            decision.jobs.append(job)
        decision.cancellations.extend(cancel)
    for desire in deciding:
        decision.outcomes.append(_outcome(agent, package_name, installed, desire, state, reason, action))


def _outcome(agent: ObservedAgent, package_name: str, installed: str | None, desire: Desire,
             state: OutcomeState, reason: str = "", action: JobAction | None = None) -> DeviceOutcome:
    return DeviceOutcome(desire.deployment, agent.agent_id, agent.client, agent.hostname, package_name,
                         desire.ensure, desire.version, state, reason, installed, action)


def _decide_one(
    agent: ObservedAgent,
    desire: Desire,
    installed: str | None,
    open_jobs: Sequence[OpenJob],
    now: datetime,
    retry: RetryPolicy,
) -> tuple[OutcomeState, str, JobAction | None, JobIntent | None, list[Cancellation]]:
    package = desire.package
    name = package.metadata.name
    if desire.ensure == "present":
        if installed == desire.version:
            return "converged", "", None, None, _cancel_all(open_jobs, agent, "already converged")
        action: JobAction = "install" if installed is None else "upgrade"
        target_version = desire.version
    else:
        if installed is None:
            return "converged", "", None, None, _cancel_all(open_jobs, agent, "already absent")
        action = "uninstall"
        target_version = installed

    equivalent = [job for job in open_jobs if _equivalent(job, desire, target_version)]
    stale = [job for job in open_jobs if job not in equivalent]
    cancellations = _cancel_all(
        [job for job in stale if job.state == "queued"], agent, "superseded by a newer plan"
    )
    busy = [job for job in stale if job.state != "queued"]
    if equivalent:
        job = equivalent[0]
        state: OutcomeState = "running" if job.state in ("leased", "running") else "pending"
        return state, f"job {job.job_id} {job.state}", job.action, None, cancellations
    if busy:
        job = busy[0]
        return ("running", f"waiting for job {job.job_id} ({job.action} {job.version}) to finish",
                action, None, cancellations)

    installer = package.spec.installer_for(agent.labels.get("os", ""), agent.labels.get("arch"))
    if installer is None:
        platform = f"{agent.labels.get('os', '?')}/{agent.labels.get('arch', '?')}"
        return "not-applicable", f"{name} has no installer for {platform}", None, None, cancellations

    held = retry.hold(agent.failures.get((name, target_version, action)), now)
    if held is not None:
        return held[0], held[1], action, None, cancellations

    if desire.suspended:
        return "suspended", "deployment is suspended", action, None, cancellations

    intent = JobIntent(
        agent_id=agent.agent_id, client=agent.client, deployment=desire.deployment,
        action=action, package=name, version=target_version, installer=installer,
        previous_version=installed,
    )
    verb = {"install": "install", "upgrade": f"upgrade from {installed}", "uninstall": "uninstall"}
    return "pending", f"{verb[action]} {target_version} issued", action, intent, cancellations


def _equivalent(job: OpenJob, desire: Desire, target_version: str) -> bool:
    if desire.ensure == "present":
        return job.action in ("install", "upgrade") and job.version == target_version
    return job.action == "uninstall"


def _cancel_all(jobs: Sequence[OpenJob], agent: ObservedAgent, reason: str) -> list[Cancellation]:
    return [
        Cancellation(job_id=job.job_id, agent_id=agent.agent_id, reason=reason)
        for job in jobs
        if job.state == "queued"
    ]
