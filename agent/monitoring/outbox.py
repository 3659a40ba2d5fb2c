"""Alerts waiting for the controller, one file each, so an outage or a restart loses none.

Like the job journal (:mod:`agent.journal`): each alert is written atomically and fsynced
(``alerts/<id>.json``) *before* anyone is told, and removed only once the controller's
answer names its id as stored. Sending the same alert twice is harmless: the controller
keys alerts by agent, monitor and subject. The outbox is capped: past ``max_items`` the
oldest are dropped (with a warning), since the newest state of each subject matters most.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from pydantic import ValidationError

from agent.errors import ConfigError
from agent.state import read_json, write_json
from schemas.limits import MAX_REQUEST_BYTES
from schemas.protocol import MAX_ALERTS_PER_REPORT, AgentAlert, AlertAck, AlertReport

log = logging.getLogger(__name__)

MAX_OUTBOX_ITEMS = 2000
_ENVELOPE_BYTES = 256


class AlertOutbox:
    def __init__(self, folder: Path, *, max_items: int = MAX_OUTBOX_ITEMS,
                 max_request_bytes: int = MAX_REQUEST_BYTES) -> None:
        self.folder = folder
        self.max_items = max_items
        self.max_request_bytes = max_request_bytes

    def put(self, alerts: list[AgentAlert]) -> None:
        """Queue ``alerts`` durably (each file fsynced before this returns)."""
        for alert in alerts:
            write_json(self.folder / f"{alert.id}.json", alert.model_dump(mode="json"))
        self._enforce_cap()

    def pending(self) -> list[AgentAlert]:
        """Queued alerts, oldest first."""
        if not self.folder.is_dir():
            return []
        found: list[AgentAlert] = []
        for path in self.folder.glob("*.json"):
            try:
                found.append(AgentAlert.model_validate(read_json(path)))
            except (ConfigError, ValidationError) as exc:
                log.warning("dropping unreadable queued alert %s: %s", path.name, exc)
                path.unlink(missing_ok=True)
        return sorted(found, key=lambda alert: (alert.observed_at, alert.id))

    def send(self, deliver: Callable[[AlertReport], AlertAck], agent_id: str) -> int:
        """Send everything queued in batches under the request cap; returns how many were stored.

        A transport error propagates with the unsent rest still queued (retried next cycle).
        """
        stored = 0
        for batch in self._batches(self.pending(), agent_id):
            ack = deliver(AlertReport(agent_id=agent_id, alerts=batch))
            sent = {alert.id for alert in batch}
            for alert_id in set(ack.stored) & sent:
                (self.folder / f"{alert_id}.json").unlink(missing_ok=True)
                stored += 1
        return stored

    def _batches(self, alerts: list[AgentAlert], agent_id: str) -> list[list[AgentAlert]]:
        budget = self.max_request_bytes - _ENVELOPE_BYTES - len(agent_id)
        batches: list[list[AgentAlert]] = []
        batch: list[AgentAlert] = []
        size = 0
        for alert in alerts:
            item = len(alert.model_dump_json()) + 1
            if batch and (size + item > budget or len(batch) >= MAX_ALERTS_PER_REPORT):
                batches.append(batch)
                batch, size = [], 0
            batch.append(alert)
            size += item
        if batch:
            batches.append(batch)
        return batches

    def _enforce_cap(self) -> None:
        paths = sorted(self.folder.glob("*.json"), key=lambda path: path.name)
        excess = len(paths) - self.max_items
        if excess > 0:
            log.warning("alert outbox over %d items: dropping the %d oldest unsent alerts", self.max_items, excess)
            for path in paths[:excess]:
                path.unlink(missing_ok=True)
