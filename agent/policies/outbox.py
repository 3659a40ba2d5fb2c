"""Policy results waiting for the controller, one file each, so an outage or a restart loses none.

Like the alert outbox (:mod:`agent.monitoring.outbox`): each result is written atomically and
fsynced (``policy-results/<id>.json``) before it is sent, and removed only once the controller's
answer names its id as stored. The controller stores a result id once, so sending twice is
harmless. Capped: past ``max_items`` the oldest are dropped with a warning.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from pathlib import Path

from pydantic import ValidationError

from agent.errors import ConfigError
from agent.state import read_json, write_json
from schemas.protocol import (
    MAX_POLICY_RESULTS,
    MAX_POLICY_RESULTS_BYTES,
    PolicyResult,
    PolicyResultAck,
    PolicyResultReport,
)

log = logging.getLogger(__name__)

MAX_QUEUED_RESULTS = 2000
_ENVELOPE_BYTES = 256


class ResultOutbox:
    def __init__(self, folder: Path, *, max_items: int = MAX_QUEUED_RESULTS,
                 max_request_bytes: int = MAX_POLICY_RESULTS_BYTES) -> None:
        self.folder = folder
        self.max_items = max_items
        self.max_request_bytes = max_request_bytes

    def put(self, result: PolicyResult) -> None:
        write_json(self.folder / f"{result.id}.json", result.model_dump(mode="json"))
        self._enforce_cap()

    def pending(self) -> list[PolicyResult]:
        """Queued results, oldest first."""
        if not self.folder.is_dir():
            return []
        found: list[PolicyResult] = []
        for path in self.folder.glob("*.json"):
            try:
                found.append(PolicyResult.model_validate(read_json(path)))
            except (ConfigError, ValidationError) as exc:
                log.warning("dropping unreadable queued policy result %s: %s", path.name, exc)
                path.unlink(missing_ok=True)
        return sorted(found, key=lambda result: (result.finished_at, result.id))

    def drop_policies_except(self, policies: Collection[str]) -> int:
        """Forget results of policies no longer assigned (the controller refuses them); returns how many."""
        dropped = 0
        for result in self.pending():
            if result.policy_id not in policies:
                (self.folder / f"{result.id}.json").unlink(missing_ok=True)
                dropped += 1
        return dropped

    def send(self, deliver: Callable[[PolicyResultReport], PolicyResultAck], agent_id: str) -> int:
        """Send everything queued in batches under the request cap; returns how many were stored.
        A transport error propagates with the unsent rest still queued."""
        stored = 0
        for batch in self._batches(self.pending(), agent_id):
            ack = deliver(PolicyResultReport(agent_id=agent_id, results=batch))
            for result_id in set(ack.stored) & {result.id for result in batch}:
                (self.folder / f"{result_id}.json").unlink(missing_ok=True)
                stored += 1
        return stored

    def _batches(self, results: list[PolicyResult], agent_id: str) -> list[list[PolicyResult]]:
        budget = self.max_request_bytes - _ENVELOPE_BYTES - len(agent_id)
        batches: list[list[PolicyResult]] = []
        batch: list[PolicyResult] = []
        size = 0
        for result in results:
            item = len(result.model_dump_json()) + 1
            if batch and (size + item > budget or len(batch) >= MAX_POLICY_RESULTS):
                batches.append(batch)
                batch, size = [], 0
            batch.append(result)
            size += item
        if batch:
            batches.append(batch)
        return batches

    def _enforce_cap(self) -> None:
        paths = sorted(self.folder.glob("*.json"), key=lambda path: path.stat().st_mtime)
        excess = len(paths) - self.max_items
        if excess > 0:
            log.warning("policy result outbox over %d items: dropping the %d oldest unsent", self.max_items, excess)
            for path in paths[:excess]:
                path.unlink(missing_ok=True)
