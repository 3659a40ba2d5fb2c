"""What each agent is told beyond its jobs: ``GET /api/agent/v1/config``.

Today that is network discovery (the ranges its client allows it to scan, from the
Client resource in git), the inventory cadence and the monitors. The config carries a
version, a hash of its content, that every check-in repeats: an agent fetches the config
only when the version it holds differs, so a commit that widens a client's scan or
changes a group's thresholds reaches its agents at their next check-in without any extra
request in the steady state.

**Monitor settings are layered**, each layer overriding only the fields it sets:

1. the Fleet's ``spec.defaults.monitors`` (fleet.yaml);
2. the client's ``spec.monitors`` (clients/<name>/client.yaml);
3. the MSP-wide DeviceGroups with ``spec.monitors`` the device belongs to;
4. the client's own DeviceGroups with ``spec.monitors`` the device belongs to.

A later layer wins, as a client's deployment wins over an MSP-wide one. Within layer 3 or 4,
two groups that set the same field to different values for one device are a **conflict**:
neither value applies (the field keeps what the layers before gave it), the log names both
groups' files, and the other fields of both groups still apply. That is what a Deployment
conflict does too: nothing is guessed, and which group sorts first never matters.

A layer whose values do not combine with what is below it (a group's critical level above
the client's warning level, say) is skipped with a warning naming its files; the layers below
still protect the device.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from controller.desired import DesiredState, Loaded, ResourceKey
from schemas.groups import DeviceGroup
from schemas.inventory import AgentConfig, DiscoverySettings
from schemas.jobs import canonical_json
from schemas.monitoring import MonitorSettings

log = logging.getLogger(__name__)

Path = tuple[str, ...]


@dataclass(frozen=True)
class MonitorConflict:
    field: str
    """The camelCase path, e.g. ``disk.warningFreePercent``."""
    groups: tuple[str, ...]
    """Each disagreeing group as ``name (path:line:col)``."""

    def __str__(self) -> str:
        return f"monitors.{self.field} differs between {' and '.join(self.groups)}; neither applies"


@dataclass(frozen=True)
class EffectiveMonitors:
    settings: MonitorSettings
    conflicts: tuple[MonitorConflict, ...] = ()
    problems: tuple[str, ...] = field(default=())


def agent_config(state: DesiredState | None, client: str, groups: Sequence[Loaded[DeviceGroup]] = ()) -> AgentConfig:
    """The config for an agent of ``client`` in ``groups`` (the monitor groups it belongs to)
    under the applied revision (defaults before the first)."""
    discovery = DiscoverySettings()
    monitors = MonitorSettings()
    if state is not None:
        loaded = state.clients.get((None, client)) or state.clients.get((client, client))
        scan = loaded.resource.spec.network_discovery.active_scan if loaded is not None else None
        if scan is not None:
            discovery = DiscoverySettings(active_cidrs=list(scan.cidrs), ports=list(scan.ports),
                                          rate_per_second=scan.rate_per_second)
        effective = effective_monitors(state, client, groups)
        for problem in (*effective.problems, *map(str, effective.conflicts)):
            log.warning("client %s: %s", client, problem)
        monitors = effective.settings
    content = AgentConfig(version="", discovery=discovery, monitors=monitors)
    digest = hashlib.sha256(canonical_json(content.model_dump(mode="json")).encode()).hexdigest()
    return content.model_copy(update={"version": digest[:16]})


def monitor_groups(state: DesiredState, client: str, labels: Mapping[str, str],
                   agent_id: str) -> tuple[Loaded[DeviceGroup], ...]:
    """The groups with ``spec.monitors`` a device belongs to: MSP-wide first, then its client's, each by name."""
    found = [group for (scope, _name), group in state.groups.items()
             if scope in (None, client) and group.resource.spec.monitors is not None
             and group.resource.spec.matches(labels, agent_id)]
    return tuple(sorted(found, key=lambda group: (group.scope is not None, group.name)))


def effective_monitors(state: DesiredState, client: str,
                       groups: Sequence[Loaded[DeviceGroup]] = ()) -> EffectiveMonitors:
    """The monitor settings of a device of ``client`` in ``groups``, layered as the module doc says."""
    settings = state.fleet.defaults.monitors
    problems: list[str] = []
    conflicts: list[MonitorConflict] = []
    loaded = state.clients.get((None, client)) or state.clients.get((client, client))
    if loaded is not None and loaded.resource.spec.monitors is not None:
        changes = _leaves(loaded.resource.spec.monitors)
        settings = _apply(settings, changes, f"clients/{client}/client.yaml spec.monitors ({loaded.location})",
                          problems)
    for scope in (None, client):
        layer = [group for group in groups if group.scope == scope and group.resource.spec.monitors is not None]
        if not layer:
            continue
        changes, found = _agreed(layer)
        conflicts += found
        names = ", ".join(f"DeviceGroup {group.ref} ({group.location})" for group in layer)
        settings = _apply(settings, changes, names, problems)
    return EffectiveMonitors(settings, tuple(conflicts), tuple(problems))


def _leaves(settings: MonitorSettings) -> dict[Path, Any]:
    """Every field ``settings`` sets explicitly, as camelCase paths (lists are one value)."""
    found: dict[Path, Any] = {}

    def walk(prefix: Path, value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk((*prefix, key), inner)
        else:
            found[prefix] = value

    walk((), settings.model_dump(mode="json", by_alias=True, exclude_unset=True))
    return found


def _agreed(layer: Sequence[Loaded[DeviceGroup]]) -> tuple[dict[Path, Any], list[MonitorConflict]]:
    """The fields the groups of one layer set, minus those they disagree on."""
    values: dict[Path, list[tuple[Any, Loaded[DeviceGroup]]]] = {}
    for group in layer:
        assert group.resource.spec.monitors is not None
        for path, value in _leaves(group.resource.spec.monitors).items():
            values.setdefault(path, []).append((value, group))
    agreed: dict[Path, Any] = {}
    conflicts: list[MonitorConflict] = []
    for path, setters in sorted(values.items()):
        distinct = {canonical_json(value) for value, _group in setters}
        if len(distinct) == 1:
            agreed[path] = setters[0][0]
        else:
            conflicts.append(MonitorConflict(".".join(path), tuple(
                f"DeviceGroup {group.ref} ({group.location})" for _value, group in setters)))
    return agreed, conflicts


def _apply(base: MonitorSettings, changes: Mapping[Path, Any], source: str, problems: list[str]) -> MonitorSettings:
    if not changes:
        return base
    merged: dict[str, Any] = base.model_dump(mode="json", by_alias=True)
    for path, value in changes.items():
        target = merged
        for key in path[:-1]:
            target = target.setdefault(key, {})
        target[path[-1]] = value
    try:
        return MonitorSettings.model_validate(merged)
    except (ValidationError, ValueError) as exc:
        # Each file was valid alone; only the combination is not. The layers below still protect the device.
        first = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
        problems.append(f"monitors of {source} do not combine with the settings below them ({first}); "
                        "they are not applied until fixed")
        return base


class AgentConfigCache:
    """One config per (client, monitor groups) per applied revision: check-ins stay free of hashing and queries."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state: DesiredState | None = None
        self._configs: dict[tuple[str, tuple[ResourceKey, ...]], AgentConfig] = {}

    def get(self, state: DesiredState | None, client: str, labels: Mapping[str, str] | None = None,
            agent_id: str = "") -> AgentConfig:
        """The config of an agent of ``client`` with device ``labels`` (None: ignore device groups)."""
        groups = monitor_groups(state, client, labels, agent_id) if state is not None and labels is not None else ()
        key = (client, tuple(group.key for group in groups))
        with self._lock:
            if state is not self._state:
                self._state, self._configs = state, {}
            found = self._configs.get(key)
            if found is None:
                found = self._configs[key] = agent_config(state, client, groups)
            return found
