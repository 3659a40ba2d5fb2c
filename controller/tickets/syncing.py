"""Reading ticket state back from the PSAs, so a ticket resolved or closed there resolves here.

:class:`TicketSync` runs beside the outbox. Every ``interval`` seconds it looks at the applied
Fleet's PSA connectors that can be read back (ConnectWise, HaloPSA; ``pollMinutes`` > 0) and polls
each one that is due: it claims the poll in the store (:func:`~controller.store.ticket_sync.claim_poll`,
so two controllers on one database do not both poll), reads the open tickets sent there that the
PSA knows, longest-unread first and at most ``max_per_poll`` of them, in the connector's batches,
and resolves here each one the PSA reports resolved or closed, with a note saying where and by
whom (:func:`~controller.store.service_requests.resolve_from_psa`: audited, sent nowhere, and a
ticket no longer open here is left alone, so nothing is ever reopened).

A failed poll (the PSA down, answering 500, 429 or garbage, or refusing the credentials) is
recorded with its reason and counted, which the status report shows; the next poll comes at the
next interval, or later when the PSA's Retry-After asks for more. Work already done in a pass
whose later batch failed is kept. Everything blocking runs in a worker thread, never on the
event loop that serves the API.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from controller.desired import DesiredState
from controller.errors import FleetwardError
from controller.repeating import every
from controller.secrets import SealedSecrets
from controller.store import Store
from controller.store.service_requests import resolve_from_psa
from controller.store.ticket_sync import claim_poll, mark_synced, record_poll, tickets_to_poll
from controller.tickets.connectors import ConnectorError, PollingConnector
from controller.tickets.delivering import ConnectorCache
from schemas.ticketing import ConnectWiseConnectorSettings, HaloPsaConnectorSettings

log = logging.getLogger(__name__)

PRODUCTS = {"connectwise": "ConnectWise", "halopsa": "HaloPSA"}
MAX_PER_POLL = 200
"""Tickets read per connector per poll; the longest-unread go first, so the rest follow next time."""


@dataclass
class SyncReport:
    polled: list[str] = field(default_factory=list)
    checked: int = 0
    resolved: int = 0
    failed: dict[str, str] = field(default_factory=dict)


class TicketSync:
    """Polls the PSA connectors that are due; see the module docstring."""

    def __init__(self, store: Store, sealed: SealedSecrets, desired: Callable[[], DesiredState | None], *,
                 interval: float = 30.0, max_per_poll: int = MAX_PER_POLL,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.store = store
        self.sealed = sealed
        self.desired = desired
        self.interval = interval
        self.max_per_poll = max_per_poll
        self._connectors = ConnectorCache(sealed, transport)
        self._lock = threading.Lock()

    async def run(self, stop: asyncio.Event) -> None:
        await every(self.interval, self.run_pass, stop, what="ticket sync pass", log=log)
        self.close()

    def close(self) -> None:
        self._connectors.close()

    def run_pass(self, now: datetime | None = None) -> SyncReport:
        """Poll every connector that is due at ``now``."""
        with self._lock:
            now = now or datetime.now(UTC)
            report = SyncReport()
            state = self.desired()
            if state is None:
                return report
            for name, settings in sorted(state.fleet.tickets.connectors.items()):
                if not isinstance(settings, ConnectWiseConnectorSettings | HaloPsaConnectorSettings) \
                        or settings.poll_minutes == 0:
                    continue
                if claim_poll(self.store, name, now, now + timedelta(minutes=settings.poll_minutes)):
                    report.polled.append(name)
                    self._poll(name, settings, now, report)
            return report

    def _connector(self, name: str, settings: Any) -> PollingConnector:
        connector = self._connectors.get(name, settings)
        assert isinstance(connector, PollingConnector)
        return connector

    def _poll(self, name: str, settings: ConnectWiseConnectorSettings | HaloPsaConnectorSettings, now: datetime,
              report: SyncReport) -> None:
        resolved = 0
        try:
            connector = self._connector(name, settings)
            targets = tickets_to_poll(self.store, name, self.max_per_poll)
            for start in range(0, len(targets), connector.max_batch):
                batch = targets[start:start + connector.max_batch]
                remote = connector.fetch_states([target.external_id for target in batch])
                for target in batch:
                    found = remote.get(target.external_id)
                    if found is None or found.state == "open":
                        continue
                    if resolve_from_psa(self.store, target.id, connector=name, product=PRODUCTS[settings.type],
                                        status=found.status, closed_by=found.closed_by, now=now) is not None:
                        resolved += 1
                mark_synced(self.store, [target.id for target in batch], now)
                report.checked += len(batch)
        except FleetwardError as error:
            delay = error.delay if isinstance(error, ConnectorError) else 0.0
            later = now + timedelta(seconds=delay) if delay > settings.poll_minutes * 60 else None
            record_poll(self.store, name, now, resolved=resolved, error=str(error), retry_at=later)
            report.failed[name] = str(error)
            report.resolved += resolved
            log.warning("polling %s failed (tried again at the next interval): %s", name, error)
            return
        record_poll(self.store, name, now, resolved=resolved)
        report.resolved += resolved
