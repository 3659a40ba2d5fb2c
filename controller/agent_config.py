"""What each agent is told beyond its jobs: ``GET /api/agent/v1/config``.

Today that is network discovery (the ranges its client allows it to scan, from the
Client resource in git) and the inventory cadence. The config carries a version, a
hash of its content, that every check-in repeats: an agent fetches the config only
when the version it holds differs, so a commit that widens a client's scan reaches
its agents at their next check-in without any extra request in the steady state.
"""

from __future__ import annotations

import hashlib
import threading

from controller.desired import DesiredState
from schemas.inventory import AgentConfig, DiscoverySettings
from schemas.jobs import canonical_json


def agent_config(state: DesiredState | None, client: str) -> AgentConfig:
    """The config for ``client``'s agents under the applied revision (defaults before the first)."""
    discovery = DiscoverySettings()
    if state is not None:
        loaded = state.clients.get((None, client)) or state.clients.get((client, client))
        scan = loaded.resource.spec.network_discovery.active_scan if loaded is not None else None
        if scan is not None:
            discovery = DiscoverySettings(active_cidrs=list(scan.cidrs), ports=list(scan.ports),
                                          rate_per_second=scan.rate_per_second)
    content = AgentConfig(version="", discovery=discovery)
    digest = hashlib.sha256(canonical_json(content.model_dump(mode="json")).encode()).hexdigest()
    return content.model_copy(update={"version": digest[:16]})


class AgentConfigCache:
    """One config per client per applied revision: check-ins stay free of hashing and queries."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state: DesiredState | None = None
        self._configs: dict[str, AgentConfig] = {}

    def get(self, state: DesiredState | None, client: str) -> AgentConfig:
        with self._lock:
            if state is not self._state:
                self._state, self._configs = state, {}
            found = self._configs.get(client)
            if found is None:
                found = self._configs[client] = agent_config(state, client)
            return found
