"""The planner: a pure function of (desired, observed, now) that says what must happen.

No I/O, no clock reads, no randomness: the same inputs give the same plan, so the
live controller, ``fleetward plan`` and the tests all share it. Level-triggered:
it reads where each device stands and emits only what is missing, so running it
again after its jobs were issued (or finished) emits nothing new.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from datetime import datetime
from operator import itemgetter

from controller.desired import DesiredState
from controller.observed import ObservedState
from controller.planning.deciding import Decision, Desire, decide
from controller.planning.plans import (
    Cancellation,
    DeviceOutcome,
    JobIntent,
    OutcomeState,
    Plan,
)
from controller.planning.retrying import DEFAULT_RETRY, RetryPolicy
from controller.planning.staging import Staged, stage
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
    by_id = {agent.agent_id: agent for agent in agents}
    targeting = Targeting(desired, agents)
    deployment_refs: list[str] = []
    intents: list[tuple[Desire, frozenset[AgentId]]] = []
    staged: list[Staged] = []
    for loaded in sorted(desired.deployments.values(), key=lambda item: item.ref):
        deployment_refs.append(loaded.ref)
        spec = loaded.resource.spec
        package = desired.resolve(Package, loaded.scope, spec.package)
        if package is None:  # the loader rejects dangling references
            continue
        desire = Desire(
            deployment=loaded.ref, scope=loaded.scope, package=package.resource,
            ensure=spec.ensure, suspended=spec.suspend, version=package.resource.spec.version,
        )
        staged.append(Staged(loaded, desire))
        targets = targeting.targets(loaded)
        if only_agents is not None:
            targets = targets & frozenset(only_agents)
        intents.append((desire, targets))

    # Packages that several deployments touch may meet on one device (overrides, conflicts):
    # those go through ``decide`` grouped per (device, package). A package only one deployment
    # touches is decided pair by pair, which for a large fleet is nearly everything.
    deployments_per_package = Counter(desire.package.metadata.name for desire, _ in intents)
    grouped: dict[tuple[AgentId, str], list[Desire]] = {}
    wanted_by_busy_agent: dict[AgentId, set[str]] = {}
    decision = Decision([], [], [])
    add_outcome = decision.outcomes.append
    make_outcome = DeviceOutcome._make
    for desire, targets in intents:
        name = desire.package.metadata.name
        shared = deployments_per_package[name] > 1
        converged_present = desire.ensure == "present"
        # In agent order, so outcomes come out nearly sorted and the final sort is cheap.
        for agent in [agent for agent in agents if agent.agent_id in targets]:
            agent_id = agent.agent_id
            if agent.open_jobs:
                wanted_by_busy_agent.setdefault(agent_id, set()).add(name)
            if shared:
                grouped.setdefault((agent_id, name), []).append(desire)
                continue
            installed = agent.managed.get(name)
            if converged_present and installed == desire.version and not agent.open_jobs:
                # The common case, concluded here without ``decide``'s bookkeeping.
                add_outcome(make_outcome((desire.deployment, agent_id, agent.client, agent.hostname, name,
                                          "present", installed, "converged", "", installed, None, None)))
                continue
            decide(agent, name, (desire,), now, retry, decision)
    for (agent_id, name), desires in grouped.items():
        decide(by_id[agent_id], name, desires, now, retry, decision)

    for agent in agents:
        if not agent.open_jobs or (only_agents is not None and agent.agent_id not in only_agents):
            continue
        packages = wanted_by_busy_agent.get(agent.agent_id, set())
        for job in agent.open_jobs:
            if job.package not in packages and job.state == "queued":
                decision.cancellations.append(Cancellation(
                    job_id=job.job_id, agent_id=agent.agent_id,
                    reason=f"no deployment wants {job.package} on this device any more",
                ))

    staging = stage(desired, observed, staged, decision, by_id, now, retry, full=only_agents is None)
    decision.outcomes.sort(key=itemgetter(0, 1))  # (deployment, agent_id)
    return Plan(
        revision=desired.revision,
        jobs=tuple(sorted(decision.jobs, key=lambda j: (j.deployment, j.agent_id, j.package))),
        cancellations=tuple(sorted(decision.cancellations, key=lambda c: (c.agent_id, c.job_id))),
        outcomes=tuple(decision.outcomes),
        deployments=tuple(deployment_refs),
        rollouts=tuple(sorted(staging.reports, key=lambda report: report.deployment)),
        needs_full=staging.needs_full,
        covers_everything=only_agents is None,
    )
