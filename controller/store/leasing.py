"""Handing jobs to agents, and taking them back when agents go quiet.

Delivery is at-least-once. A lease hands an agent its queued jobs *and* the ones
it already holds (leased or running): an agent that restarted mid-job gets back
what it had, and the agent's journal makes the repeat harmless. A lease that runs
out without news puts the job back in the queue, until ``max_deliveries`` says the
agent is not going to answer. Jobs past ``expires_at`` are never handed out; they
are marked expired (the agent would refuse them anyway).

An idle agent long-polling for work only reads: the write transaction (which on
SQLite takes the database's write lock) starts only when there is something to
hand out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import bindparam, select, update

from controller.store.engine import Store
from controller.store.jobs import JOB_ROW_COLUMNS, JobRow, add_events, job_row
from controller.store.statements import chunks
from controller.store.tables import OPEN_JOB_STATES, agents, jobs
from controller.store.timestamps import duration

MAX_LEASE = 100
HELD = ("leased", "running")


class Lease(NamedTuple):
    jobs: list[JobRow]
    """Ordered by seq."""
    seq_high: int
    """The agent's highest issued seq when the lease was answered."""


def lease_jobs(store: Store, agent_id: str, now: datetime, lease_ttl: timedelta | float,
               max_jobs: int) -> Lease:
    """Lease up to ``max_jobs`` of the agent's open jobs, lowest seq first (never another agent's)."""
    ttl = duration(lease_ttl)
    owned_open = (jobs.c.agent_id == agent_id, jobs.c.state.in_(OPEN_JOB_STATES))
    seq_high = select(agents.c.last_job_seq).where(agents.c.id == agent_id)
    with store.read() as session:
        high = session.execute(seq_high).scalar_one_or_none() or 0
        if session.execute(select(jobs.c.id).where(*owned_open).limit(1)).first() is None:
            return Lease([], high)
    with store.write() as session:
        rows = session.execute(
            select(*JOB_ROW_COLUMNS).where(*owned_open).order_by(jobs.c.seq).with_for_update()).all()
        high = session.execute(seq_high).scalar_one_or_none() or 0
        expired = [row for row in rows if row.expires_at <= now]
        live = [row for row in rows if row.expires_at > now][:max(1, min(max_jobs, MAX_LEASE))]
        _expire(session, expired, now)
        until = now + ttl
        for batch in chunks([row.id for row in live]):
            session.execute(update(jobs).where(jobs.c.id.in_(batch)).values(
                state="leased", deliveries=jobs.c.deliveries + 1, leased_until=until, updated_at=now))
        add_events(session, [{"job_id": row.id, "agent_id": row.agent_id, "client": row.client, "at": now,
                              "status": "leased", "data": {"delivery": row.deliveries + 1}} for row in live])
    leased = [replace(job_row(row), state="leased", deliveries=row.deliveries + 1, leased_until=until)
              for row in live]
    return Lease(leased, high)


def _expire(session: Any, rows: Sequence[Any], now: datetime) -> None:
    if not rows:
        return
    session.execute(
        update(jobs).where(jobs.c.id == bindparam("job")).values(
            state="expired", reason=bindparam("why"), finished_at=now, updated_at=now, leased_until=None),
        [{"job": row.id, "why": _expiry_reason(row)} for row in rows])
    add_events(session, [{"job_id": row.id, "agent_id": row.agent_id, "client": row.client, "at": now,
                          "status": "expired", "reason": _expiry_reason(row)} for row in rows])


def _expiry_reason(row: Any) -> str:
    moment = row.expires_at.isoformat(timespec="seconds")
    if row.state == "queued":
        return f"not delivered before it expired at {moment}; the agent was not seen in time"
    return f"the agent did not finish it before it expired at {moment}"


def expire_jobs(store: Store, now: datetime) -> int:
    """Mark every open job past ``expires_at`` expired; returns how many."""
    with store.write() as session:
        rows = session.execute(
            select(jobs.c.id, jobs.c.agent_id, jobs.c.client, jobs.c.state, jobs.c.expires_at)
            .where(jobs.c.state.in_(OPEN_JOB_STATES), jobs.c.expires_at <= now).with_for_update()).all()
        _expire(session, rows, now)
    return len(rows)


def requeue_stale_leases(store: Store, now: datetime, max_deliveries: int) -> int:
    """Leased or running jobs whose lease ran out go back to the queue, or fail after
    ``max_deliveries`` deliveries without a result. Returns how many jobs changed."""
    with store.write() as session:
        rows = session.execute(
            select(jobs.c.id, jobs.c.agent_id, jobs.c.client, jobs.c.deliveries)
            .where(jobs.c.state.in_(HELD), jobs.c.leased_until < now).with_for_update()).all()
        give_up = [row for row in rows if row.deliveries >= max_deliveries]
        retry = [row for row in rows if row.deliveries < max_deliveries]
        for batch in chunks([row.id for row in retry]):
            session.execute(update(jobs).where(jobs.c.id.in_(batch)).values(
                state="queued", leased_until=None, updated_at=now))
        if give_up:
            session.execute(
                update(jobs).where(jobs.c.id == bindparam("job")).values(
                    state="failed", reason=bindparam("why"), finished_at=now, updated_at=now,
                    leased_until=None),
                [{"job": row.id, "why": _give_up_reason(row.deliveries)} for row in give_up])
        add_events(session, [
            {"job_id": row.id, "agent_id": row.agent_id, "client": row.client, "at": now, "status": "queued",
             "reason": "lease ran out without a report; queued again"} for row in retry
        ] + [
            {"job_id": row.id, "agent_id": row.agent_id, "client": row.client, "at": now, "status": "failed",
             "reason": _give_up_reason(row.deliveries)} for row in give_up
        ])
    return len(rows)


def _give_up_reason(deliveries: int) -> str:
    return f"agent did not report after {deliveries} deliveries"
