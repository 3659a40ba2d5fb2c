"""Keep ``policy_assignments`` and ``device_group_members`` true to the applied revision.

Called by the reconciler after each pass with the agents it read (all of them, or the dirty
ones): the planner's :class:`~controller.planning.targeting.Targeting` decides membership, with
inheritance (:mod:`controller.planning.inheriting`): an agent whose client overrides a baseline is
assigned the baseline's id at the override's version, and an excluded agent is not assigned. Then
:func:`controller.store.policies.write_assignments` writes only the differences. A policy that
cannot be delivered is still assigned, with an empty version, so its targets count as unknown.
"""

from __future__ import annotations

from collections.abc import Collection

from controller.desired import DesiredState
from controller.observed import ObservedState
from controller.planning.inheriting import PolicyTargeting, effective_policies
from controller.planning.targeting import Targeting, index_agents
from controller.policies.bundling import PolicyBundles
from controller.store.engine import Store
from controller.store.policies import Assignment, GroupMember, write_assignments


def refresh_assignments(store: Store, desired: DesiredState, observed: ObservedState, bundles: PolicyBundles,
                        agent_ids: Collection[str] | None) -> int:
    """Rewrite the assignments and group members of ``agent_ids`` (None: all); returns rows changed."""
    agents = index_agents(observed.agents)
    client_of = {agent.agent_id: agent.client for agent in agents}
    targeting = Targeting(desired, agents)
    reach = PolicyTargeting(targeting)
    entries = bundles.entries(desired)
    assignments = [
        Assignment(effective.ref, agent_id, client_of[agent_id],
                   entries[effective.key].policy.version if effective.key in entries else "")
        for effective in effective_policies(desired)
        for agent_id in reach.targets(effective)]
    members = [GroupMember(group.ref, agent_id, client_of[agent_id])
               for group in desired.groups.values() for agent_id in targeting.members(group)]
    return write_assignments(store, assignments, members, agent_ids)
