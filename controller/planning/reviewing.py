"""A proposal's review: every resource change, every device action, every deletion spelled out.

Pure: the applied and the proposed desired states plus the observed state in, a
:class:`Review` out. Deletions are the part reviewers most often miss, so a removed
deployment also says on how many devices (per client) its software stays installed:
removing a deployment never uninstalls anything; ``ensure: absent`` does.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from controller.desired import DesiredState
from controller.observed import ObservedState
from controller.planning import plan
from controller.planning.changes import ResourceChange, resource_changes
from controller.planning.plans import Plan
from controller.planning.targeting import Targeting, index_agents
from schemas.deployments import Deployment


@dataclass(frozen=True)
class Orphaned:
    """A deployment the proposal removes, and the devices where its package stays installed."""

    deployment: str
    package: str
    devices_per_client: tuple[tuple[str, int], ...]
    hostnames: tuple[str, ...]


@dataclass(frozen=True)
class Review:
    branch: str
    head: str
    base: str | None
    problems: tuple[str, ...] = ()
    changes: tuple[ResourceChange, ...] = ()
    plan: Plan | None = None
    orphaned: tuple[Orphaned, ...] = field(default=())

    @property
    def valid(self) -> bool:
        return not self.problems


def review(branch: str, head: str, applied: DesiredState | None, proposed: DesiredState,
           observed: ObservedState, now: datetime) -> Review:
    changes = resource_changes(applied, proposed)
    orphaned: list[Orphaned] = []
    if applied is not None:
        removed = {c.ref for c in changes if c.kind == "Deployment" and c.change == "removed"}
        agents = index_agents(observed.agents)
        targeting = Targeting(applied, agents)
        for loaded in applied.of_kind(Deployment).values():
            if loaded.ref not in removed:
                continue
            package = loaded.resource.spec.package
            keeping = [observed.agents[agent_id] for agent_id in sorted(targeting.targets(loaded))
                       if package in observed.agents[agent_id].managed]
            per_client = Counter(agent.client for agent in keeping)
            orphaned.append(Orphaned(loaded.ref, package, tuple(sorted(per_client.items())),
                                     tuple(sorted(agent.hostname for agent in keeping))))
    orphaned.sort(key=lambda item: item.deployment)
    return Review(branch=branch, head=head, base=applied.revision if applied else None, changes=changes,
                  plan=plan(proposed, observed, now), orphaned=tuple(orphaned))


def invalid_review(branch: str, head: str, base: str | None, problems: list[str]) -> Review:
    return Review(branch=branch, head=head, base=base, problems=tuple(problems))
