"""What the ticket-sync worker and the status report need from the store: which tickets to read
back from a PSA, each connector's poll bookkeeping, and each connector's outbox backlog.

Polls are claimed, not just read: :func:`claim_poll` moves a connector's ``next_poll_at`` forward
only if it is due, in one conditional UPDATE, so two controllers sharing a database do not both
poll the same PSA in the same interval. Tickets are read longest-unread first
(``synced_at``, never-read first), so a pass bounded to a batch still reaches every ticket in turn.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict
from sqlalchemy import exc, func, insert, select, update

from controller.store.engine import Store
from controller.store.tables import (
    OPEN_SERVICE_REQUEST_STATES,
    service_requests,
    ticket_connector_polls,
    ticket_outbox,
)

MAX_ERROR = 2000


@dataclass(frozen=True)
class PollTarget:
    id: int
    external_id: str


class ConnectorHealth(BaseModel):
    """One connector's outbox backlog and polling, as the status report and the API show them."""

    model_config = ConfigDict(frozen=True)

    connector: str
    pending: int = 0
    oldest_pending_at: datetime | None = None
    failed: int = 0
    """Outbox rows refused for good (fix the settings; they are not retried)."""
    last_error: str = ""
    """The newest error of a pending or failed outbox row."""
    polled_at: datetime | None = None
    last_poll_success_at: datetime | None = None
    poll_failures: int = 0
    """Failed polls in a row (0 once one succeeds)."""
    failed_polls: int = 0
    resolved_from_psa: int = 0
    last_poll_error: str = ""


def tickets_to_poll(store: Store, connector: str, limit: int) -> list[PollTarget]:
    """Open tickets sent to ``connector`` that the PSA knows (an external id), longest-unread first."""
    table = service_requests.c
    with store.read() as session:
        rows = session.execute(
            select(table.id, table.external_id)
            .where(table.connector == connector, table.state.in_(OPEN_SERVICE_REQUEST_STATES),
                   table.external_id.is_not(None))
            .order_by(table.synced_at.asc().nulls_first(), table.id).limit(max(1, limit))).all()
    return [PollTarget(row.id, row.external_id) for row in rows]


def mark_synced(store: Store, ticket_ids: Sequence[int], now: datetime) -> None:
    if not ticket_ids:
        return
    with store.write() as session:
        session.execute(update(service_requests).where(service_requests.c.id.in_(list(ticket_ids)))
                        .values(synced_at=now))


def claim_poll(store: Store, connector: str, now: datetime, next_poll_at: datetime) -> bool:
    """Take ``connector``'s poll if it is due, pushing the next one to ``next_poll_at``; False when
    it is not due (or another controller just took it)."""
    table = ticket_connector_polls.c
    try:
        with store.write() as session:
            if session.execute(select(table.connector).where(table.connector == connector)).first() is None:
                session.execute(insert(ticket_connector_polls).values(
                    connector=connector, next_poll_at=now, last_poll_at=None, last_success_at=None, failures=0,
                    failed_polls=0, resolved=0, last_error=""))
    except exc.IntegrityError:
        pass  # another controller inserted it a moment ago
    with store.write() as session:
        claimed = session.execute(update(ticket_connector_polls)
                                  .where(table.connector == connector, table.next_poll_at <= now)
                                  .values(next_poll_at=next_poll_at, last_poll_at=now)).rowcount  # type: ignore[attr-defined]
    return bool(claimed)


def record_poll(store: Store, connector: str, now: datetime, *, resolved: int = 0, error: str | None = None,
                retry_at: datetime | None = None) -> None:
    """The outcome of a claimed poll. A failure counts, keeps its message, and may move the next poll
    (``retry_at``: later when the PSA asked to be left alone)."""
    table = ticket_connector_polls.c
    values: dict[str, object] = {"resolved": table.resolved + resolved}
    if error is None:
        values.update(last_success_at=now, failures=0, last_error="")
    else:
        values.update(failures=table.failures + 1, failed_polls=table.failed_polls + 1,
                      last_error=error[:MAX_ERROR])
        if retry_at is not None:
            values["next_poll_at"] = retry_at
    with store.write() as session:
        session.execute(update(ticket_connector_polls).where(table.connector == connector).values(values))


def connector_health(store: Store) -> list[ConnectorHealth]:
    """Every connector with an outbox row still to deliver or refused, or with a poll record; by name."""
    outbox = ticket_outbox.c
    with store.read() as session:
        backlog = session.execute(
            select(outbox.connector, outbox.state, func.count(), func.min(outbox.created_at))
            .where(outbox.state.in_(("pending", "failed"))).group_by(outbox.connector, outbox.state)).all()
        errors = session.execute(
            select(outbox.connector, outbox.last_error)
            .where(outbox.id.in_(select(func.max(outbox.id)).where(outbox.state.in_(("pending", "failed")),
                                                                   outbox.last_error != "")
                                 .group_by(outbox.connector)))).all()
        poll_rows = session.execute(select(ticket_connector_polls)).mappings().all()
    found: dict[str, dict[str, object]] = {}
    for connector, state, count, oldest in backlog:
        entry = found.setdefault(connector, {})
        if state == "pending":
            entry.update(pending=count, oldest_pending_at=oldest)
        else:
            entry["failed"] = count
    for connector, last_error in errors:
        found.setdefault(connector, {})["last_error"] = last_error
    for row in poll_rows:
        found.setdefault(row["connector"], {}).update(
            polled_at=row["last_poll_at"], last_poll_success_at=row["last_success_at"],
            poll_failures=row["failures"], failed_polls=row["failed_polls"], resolved_from_psa=row["resolved"],
            last_poll_error=row["last_error"])
    return [ConnectorHealth.model_validate({"connector": name, **fields}) for name, fields in sorted(found.items())]
