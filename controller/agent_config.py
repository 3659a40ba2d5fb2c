"""What each agent is told beyond its jobs: ``GET /api/agent/v1/config``.

Today that is network discovery (the ranges its client allows it to scan, from the
Client resource in git), the inventory cadence and the monitors (the Fleet's
``defaults.monitors`` with the client's ``monitors`` laid over them field by field). The config carries a version, a
hash of its content, that every check-in repeats: an agent fetches the config only
when the version it holds differs, so a commit that widens a client's scan reaches
its agents at their next check-in without any extra request in the steady state.
"""

from __future__ import annotations

import hashlib
import logging
import threading

from controller.desired import DesiredState
from schemas.inventory import AgentConfig, DiscoverySettings
from schemas.jobs import canonical_json
from schemas.monitoring import MonitorSettings, overlay

log = logging.getLogger(__name__)


def agent_config(state: DesiredState | None, client: str) -> AgentConfig:
    """The config for ``client``'s agents under the applied revision (defaults before the first)."""
    discovery = DiscoverySettings()
    monitors = MonitorSettings()
    if state is not None:
        loaded = state.clients.get((None, client)) or state.clients.get((client, client))
        scan = loaded.resource.spec.network_discovery.active_scan if loaded is not None else None
        if scan is not None:
            discovery = DiscoverySettings(active_cidrs=list(scan.cidrs), ports=list(scan.ports),
                                          rate_per_second=scan.rate_per_second)
        monitors = _monitors(state.fleet.defaults.monitors,
                             loaded.resource.spec.monitors if loaded is not None else None, client)
    content = AgentConfig(version="", discovery=discovery, monitors=monitors)
    digest = hashlib.sha256(canonical_json(content.model_dump(mode="json")).encode()).hexdigest()
    return content.model_copy(update={"version": digest[:16]})


def _monitors(fleet: MonitorSettings, client_override: MonitorSettings | None, client: str) -> MonitorSettings:
    try:
        return overlay(fleet, client_override)
    except ValueError as exc:
        # Each file was valid alone; only the combination is not. The Fleet's settings still protect the client.
        log.warning("client %s: its monitors do not combine with the Fleet's defaults (%s); using the Fleet's. "
                    "Fix clients/%s/client.yaml spec.monitors", client, exc, client)
        return fleet


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
