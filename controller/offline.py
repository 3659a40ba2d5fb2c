"""Agent-offline alerts: the one monitor the controller runs, since an agent that is off cannot say so.

An agent whose last check-in is older than its ``agentOffline.afterMinutes`` (Fleet defaults,
overridden per client and per device group like every monitor: :mod:`controller.agent_config`)
raises ``controller.agent-offline`` with its own severity; the first pass after it checks in
again clears it. Revoked agents never alert, and a revocation clears an open alert.

Each pass is one indexed read of the agents silent past the *smallest* threshold any layer sets
(``agents.last_seen_at`` is indexed, so 10,000 agents that all check in cost a range scan that
finds none), one read of the open offline alerts, and a write only for what changed: an alert
already open with the same severity and message is left alone. The message names the last
check-in, not "offline for N minutes", so it stays the same from pass to pass.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from controller.agent_config import effective_monitors, monitor_groups
from controller.desired import DesiredState, ResourceKey
from controller.repeating import every
from controller.store import Store, clear_alerts_except, raise_alert
from controller.store.agents import merged_labels
from controller.store.tables import agents, alerts
from schemas.groups import DeviceGroup
from schemas.monitoring import AgentOffline, AlertSeverity

log = logging.getLogger(__name__)

KEY_PREFIX = "offline:"
ALERT_TYPE = "controller.agent-offline"
DEFAULT_INTERVAL = 60.0


@dataclass(frozen=True)
class SilentAgent:
    agent_id: str
    client: str
    hostname: str
    last_seen_at: datetime
    labels: dict[str, str]


@dataclass(frozen=True)
class OfflineAlert:
    key: str
    agent: SilentAgent
    severity: AlertSeverity
    message: str
    detail: dict[str, Any]


def shortest_threshold(state: DesiredState) -> timedelta:
    """The smallest ``afterMinutes`` any layer sets: no agent can be offline sooner."""
    minutes = [state.fleet.defaults.monitors.agent_offline.after_minutes]
    for loaded in state.clients.values():
        monitors = loaded.resource.spec.monitors
        if monitors is not None and "agent_offline" in monitors.model_fields_set:
            minutes.append(monitors.agent_offline.after_minutes)
    for group in state.of_kind(DeviceGroup).values():
        monitors = group.resource.spec.monitors
        if monitors is not None and "agent_offline" in monitors.model_fields_set:
            minutes.append(monitors.agent_offline.after_minutes)
    return timedelta(minutes=min(minutes))


def offline_alerts(state: DesiredState, silent: Iterable[SilentAgent], now: datetime) -> list[OfflineAlert]:
    """The offline alerts that should be open (pure: the agents and ``now`` in, alerts out)."""
    settings: dict[tuple[str, tuple[ResourceKey, ...]], AgentOffline] = {}
    wanted: list[OfflineAlert] = []
    for agent in sorted(silent, key=lambda item: item.agent_id):
        groups = monitor_groups(state, agent.client, agent.labels, agent.agent_id)
        cache_key = (agent.client, tuple(group.key for group in groups))
        offline = settings.get(cache_key)
        if offline is None:
            offline = settings[cache_key] = effective_monitors(state, agent.client, groups).settings.agent_offline
        if not offline.enabled or now - agent.last_seen_at < timedelta(minutes=offline.after_minutes):
            continue
        seen = agent.last_seen_at.strftime("%Y-%m-%d %H:%M UTC")
        wanted.append(OfflineAlert(
            key=f"{KEY_PREFIX}{agent.agent_id}", agent=agent, severity=offline.severity,
            message=f"{agent.hostname or agent.agent_id} has not checked in since {seen} "
                    f"(offline after {offline.after_minutes} min)",
            detail={"last_seen_at": agent.last_seen_at.isoformat(), "after_minutes": offline.after_minutes,
                    "hostname": agent.hostname}))
    return wanted


def silent_agents(store: Store, before: datetime) -> list[SilentAgent]:
    """Agents not revoked whose last check-in is before ``before``: one read on the last_seen_at index."""
    table = agents.c
    statement = (select(table.id, table.client, table.hostname, table.last_seen_at, table.labels, table.facts)
                 .where(table.last_seen_at < before, table.revoked_at.is_(None)))
    with store.read() as session:
        return [SilentAgent(row.id, row.client, row.hostname, row.last_seen_at,
                            merged_labels(row.labels or {}, row.facts or {}, row.client))
                for row in session.execute(statement)]


def check_offline(store: Store, state: DesiredState, now: datetime) -> list[OfflineAlert]:
    """Raise the offline alerts that hold now and clear the others; returns the open ones."""
    wanted = offline_alerts(state, silent_agents(store, now - shortest_threshold(state)), now)
    with store.read() as session:
        open_now = {(key, severity, message) for key, severity, message in session.execute(
            select(alerts.c.key, alerts.c.severity, alerts.c.message)
            .where(alerts.c.state == "open", alerts.c.key.startswith(KEY_PREFIX)))}
    for alert in wanted:
        if (alert.key, alert.severity, alert.message) in open_now:
            continue
        raise_alert(store, client=alert.agent.client, agent_id=alert.agent.agent_id, type=ALERT_TYPE,
                    severity=alert.severity, key=alert.key, message=alert.message, detail=alert.detail, now=now)
    keep = {alert.key for alert in wanted}
    if any(key not in keep for key, _severity, _message in open_now):
        cleared = clear_alerts_except(store, KEY_PREFIX, keep, now)
        log.info("cleared %d agent-offline alerts (agents back or revoked)", cleared)
    return wanted


class OfflineWatcher:
    """Checks every ``interval`` seconds beside the reconcile loop; nothing before the first applied revision."""

    def __init__(self, store: Store, desired: Callable[[], DesiredState | None], clock: Callable[[], datetime],
                 *, interval: float = DEFAULT_INTERVAL) -> None:
        self.store = store
        self.desired = desired
        self.clock = clock
        self.interval = interval

    def check(self) -> list[OfflineAlert]:
        state = self.desired()
        return [] if state is None else check_offline(self.store, state, self.clock())

    async def run(self, stop: asyncio.Event) -> None:
        await every(self.interval, self.check, stop, what="agent-offline check", log=log)
