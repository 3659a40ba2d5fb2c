"""The planner: a pure function of (desired, observed, now) that says what must happen.

No I/O, no clock reads, no randomness: the same inputs give the same plan, so the
live controller, ``fleetward plan`` and the tests all share it. Level-triggered:
it reads where each device stands and emits only what is missing, so running it
again after its jobs were issued (or finished) emits nothing new.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from controller.desired import DesiredState
from controller.observed import ObservedState
from controller.planning.deciding import Desire, decide
from controller.planning.plans import (
    Cancellation,
    DeviceOutcome,
    JobIntent,
    OutcomeState,
    Plan,
)
from controller.planning.retrying import DEFAULT_RETRY, RetryPolicy
from controller.planning.targeting import Targeting, index_agents
from schemas.ids import AgentId
from schemas.packages import Package

__all__ = [
    "DEFAULT_RETRY",
    "Cancellation",
    "DeviceOutcome",
    "JobIntent",
    "OutcomeState",
    "Plan",
    "RetryPolicy",
    "plan",
]


def plan(
    desired: DesiredState,
    observed: ObservedState,
    now: datetime,
    *,
    retry: RetryPolicy = DEFAULT_RETRY,
    only_agents: Collection[AgentId] | None = None,
) -> Plan:
    """Compare desired with observed at ``now``.

    ``only_agents`` limits the plan to those devices (the incremental reconcile
    of agents marked dirty); targeting still sees every agent in ``observed``.
    Outcomes and jobs are sorted by (deployment, agent) so plans compare equal.
    """
    agents = index_agents(observed.agents)
    targeting = Targeting(desired, agents)
    wanted: dict[AgentId, dict[str, list[Desire]]] = {}
    deployment_refs: list[str] = []

    for loaded in sorted(desired.deployments.values(), key=lambda item: item.ref):
        deployment_refs.append(loaded.ref)
        spec = loaded.resource.spec
        package = desired.resolve(Package, loaded.scope, spec.package)
        if package is None:  # the loader rejects dangling references
            continue
        desire = Desire(
            deployment=loaded.ref, scope=loaded.scope, package=package.resource,
            ensure=spec.ensure, suspended=spec.suspend,
        )
        for agent_id in targeting.targets(loaded):
            if only_agents is not None and agent_id not in only_agents:
                continue
            wanted.setdefault(agent_id, {}).setdefault(spec.package, []).append(desire)

    jobs: list[JobIntent] = []
    cancellations: list[Cancellation] = []
    outcomes: list[DeviceOutcome] = []
    for agent in agents:
        if only_agents is not None and agent.agent_id not in only_agents:
            continue
        packages = wanted.get(agent.agent_id, {})
        for package_name in sorted(packages):
            decision = decide(agent, package_name, packages[package_name], now, retry)
            jobs.extend(decision.jobs)
            cancellations.extend(decision.cancellations)
            outcomes.extend(decision.outcomes)
        for job in agent.open_jobs:
            if job.package not in packages and job.state == "queued":
                cancellations.append(Cancellation(
                    job_id=job.job_id, agent_id=agent.agent_id,
                    reason=f"no deployment wants {job.package} on this device any more",
                ))

    return Plan(
        revision=desired.revision,
        jobs=tuple(sorted(jobs, key=lambda j: (j.deployment, j.agent_id, j.package))),
        cancellations=tuple(sorted(cancellations, key=lambda c: (c.agent_id, c.job_id))),
        outcomes=tuple(sorted(outcomes, key=lambda o: (o.deployment, o.agent_id))),
        deployments=tuple(deployment_refs),
    )
