"""The ticket-connector part of a status snapshot: per connector, the outbox backlog (pending
rows, the oldest one, rows refused for good, the last error) and how reading state back goes
(failed polls, tickets resolved because the PSA resolved them).

One read (:func:`~controller.store.ticket_sync.connector_health`, two grouped queries and the
poll table). Ages are bucketed so a waiting backlog does not change the report every round.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from controller.desired import DesiredState
from controller.status.snapshot import ConnectorLine
from controller.store import Store
from controller.store.service_requests import EMAIL_OUTBOX
from controller.store.ticket_sync import ConnectorHealth, connector_health
from schemas.ticketing import ConnectWiseConnectorSettings, HaloPsaConnectorSettings

MAX_ERROR_SHOWN = 300
AGE_BUCKETS = ((timedelta(hours=1), "under an hour"), (timedelta(hours=6), "1-6 hours"),
               (timedelta(days=1), "6-24 hours"), (timedelta(days=7), "1-7 days"))


def age_bucket(since: datetime | None, now: datetime) -> str:
    if since is None:
        return ""
    age = now - since
    return next((label for limit, label in AGE_BUCKETS if age < limit), "over a week")


def collect_connectors(store: Store, applied: DesiredState | None, now: datetime) -> tuple[ConnectorLine, ...]:
    health = {row.connector: row for row in connector_health(store)}
    configured = applied.fleet.tickets.connectors if applied is not None else {}
    lines = []
    for name in sorted(set(health) | set(configured)):
        row = health.get(name) or ConnectorHealth(connector=name)
        settings = configured.get(name)
        if name == EMAIL_OUTBOX:
            kind, polling = "e-mail (SMTP)", ""
        elif settings is None:
            kind, polling = "removed from fleet.yaml", ""
        else:
            kind = settings.type
            polling = ""
            if isinstance(settings, ConnectWiseConnectorSettings | HaloPsaConnectorSettings):
                polling = f"every {settings.poll_minutes} min" if settings.poll_minutes else "off"
        lines.append(ConnectorLine(
            name=name, type=kind, pending=row.pending, oldest_pending_at=row.oldest_pending_at,
            oldest_pending_age=age_bucket(row.oldest_pending_at, now), failed=row.failed,
            last_error=row.last_error[:MAX_ERROR_SHOWN], polling=polling, poll_failures=row.poll_failures,
            failed_polls=row.failed_polls, resolved_from_psa=row.resolved_from_psa,
            last_poll_error=row.last_poll_error[:MAX_ERROR_SHOWN]))
    return tuple(lines)
