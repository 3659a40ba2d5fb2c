"""Keep ``policy_assignments`` and ``device_group_members`` true to the applied revision.

Called by the reconciler after each pass with the agents it read (all of them, or the dirty
ones): the planner's :class:`~controller.planning.targeting.Targeting` decides membership, and
:func:`controller.store.policies.write_assignments` writes only the differences. A policy that
cannot be delivered is still assigned, with an empty version, so its targets count as unknown.
"""

from __future__ import annotations

from collections.abc import Collection

from controller.desired import DesiredState
from controller.observed import ObservedState
from controller.planning.targeting import Targeting, index_agents
from controller.policies.bundling import PolicyBundles
from controller.store.engine import Store
from controller.store.policies import Assignment, GroupMember, write_assignments
from schemas.policies import Policy


def refresh_assignments(store: Store, desired: DesiredState, observed: ObservedState, bundles: PolicyBundles,
                        agent_ids: Collection[str] | None) -> int:
    """Rewrite the assignments and group members of ``agent_ids`` (None: all); returns rows changed."""
    agents = index_agents(observed.agents)
    client_of = {agent.agent_id: agent.client for agent in agents}
    targeting = Targeting(desired, agents)
    entries = bundles.entries(desired)
    assignments = [
        Assignment(policy.ref, agent_id, client_of[agent_id],
                   entries[policy.ref].policy.version if policy.ref in entries else "")
        for policy in desired.of_kind(Policy).values()
        for agent_id in targeting.targets_of(policy.scope, policy.resource.spec.targets)]
    members = [GroupMember(group.ref, agent_id, client_of[agent_id])
               for group in desired.groups.values() for agent_id in targeting.members(group)]
    return write_assignments(store, assignments, members, agent_ids)
