"""Which devices a deployment acts on.

Targets are the union of the named groups' members and the named devices,
always intersected with the deployment's scope: a resource under
``clients/<name>/`` only ever reaches that client's devices, and a client's
DeviceGroup only ever contains that client's devices.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from controller.desired import DesiredState, Loaded, ResourceKey, Scope
from controller.observed import ObservedAgent
from schemas.deployments import Deployment, Targets
from schemas.groups import DeviceGroup
from schemas.ids import AgentId
from schemas.policies import Exclusions


class Targeting:
    """Evaluates groups once per plan and answers target sets per deployment."""

    def __init__(self, desired: DesiredState, agents: Sequence[ObservedAgent]) -> None:
        self._desired = desired
        self._agents = agents
        self._by_client: dict[str, list[ObservedAgent]] = {}
        self._by_name: dict[str, list[ObservedAgent]] = {}
        for agent in agents:
            self._by_client.setdefault(agent.client, []).append(agent)
            self._by_name.setdefault(agent.agent_id, []).append(agent)
            self._by_name.setdefault(agent.hostname, []).append(agent)
        self._members: dict[ResourceKey, frozenset[AgentId]] = {}
        self._clients: dict[str, frozenset[AgentId]] = {}
        self._client_of = {agent.agent_id: agent.client for agent in agents}

    def client_of(self, agent_id: AgentId) -> str | None:
        return self._client_of.get(agent_id)

    def in_scope(self, scope: Scope) -> Sequence[ObservedAgent]:
        return self._agents if scope is None else self._by_client.get(scope, [])

    def members(self, group: Loaded[DeviceGroup]) -> frozenset[AgentId]:
        key = group.key
        found = self._members.get(key)
        if found is None:
            spec = group.resource.spec
            found = frozenset(
                agent.agent_id
                for agent in self.in_scope(group.scope)
                if spec.matches(agent.labels, agent.agent_id)
            )
            self._members[key] = found
        return found

    def targets(self, deployment: Loaded[Deployment]) -> frozenset[AgentId]:
        return self.targets_of(deployment.scope, deployment.resource.spec.targets)

    def targets_of(self, scope: Scope, spec: Targets) -> frozenset[AgentId]:
        """The devices ``spec`` names from a resource in ``scope`` (a Deployment's or a Policy's targets)."""
        chosen: set[AgentId] = set()
        # A client's resource naming an MSP-wide group takes only its own members, without copying the rest.
        in_scope = self.client_agents(scope) if scope is not None else None
        for group_name in spec.all_groups:
            group = self._desired.resolve(DeviceGroup, scope, group_name)
            if group is not None:  # the loader rejects dangling references
                members = self.members(group)
                chosen.update(members if in_scope is None else members & in_scope)
        chosen.update(self._named_devices(spec.devices, scope))
        if in_scope is not None:
            chosen &= in_scope
        return frozenset(chosen)

    def client_agents(self, client: str) -> frozenset[AgentId]:
        """The ids of one client's agents (remembered)."""
        found = self._clients.get(client)
        if found is None:
            found = self._clients[client] = frozenset(agent.agent_id for agent in self._by_client.get(client, []))
        return found

    def excluded(self, scope: Scope, exclude: Exclusions | None) -> frozenset[AgentId]:
        """The devices of ``scope`` that ``exclude`` (a Policy's) names: groups, devices, label selector."""
        if exclude is None:
            return frozenset()
        found = self._named_devices(exclude.devices, scope)
        for group_name in exclude.groups:
            group = self._desired.resolve(DeviceGroup, scope, group_name)
            if group is not None:  # the loader rejects dangling references
                found.update(self.members(group))
        if exclude.selector is not None:
            found.update(agent.agent_id for agent in self.in_scope(scope) if exclude.selector.matches(agent.labels))
        if scope is not None:
            found &= self.client_agents(scope)
        return frozenset(found)

    def _named_devices(self, names: Iterable[str], scope: Scope) -> set[AgentId]:
        found: set[AgentId] = set()
        for name in names:
            for agent in self._by_name.get(name, []):
                if scope is None or agent.client == scope:
                    found.add(agent.agent_id)
        return found


def index_agents(agents: Mapping[AgentId, ObservedAgent]) -> list[ObservedAgent]:
    """Agents in a stable order (by id) so plans are deterministic."""
    return [agents[agent_id] for agent_id in sorted(agents)]
