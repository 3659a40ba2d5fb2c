"""Jobs as the rest of the controller sees them, and the read side of the job tables.

A job's life::

    queued ──lease──▶ leased ──"running"──▶ running ──result──▶ succeeded | failed | refused
      │  ▲              │                     │
      │  └──stale lease─┴─────────────────────┘  (or failed after max deliveries)
      ├──plan cancels──▶ cancelled
      └──past expires_at (queued, leased or running)──▶ expired

Writers live next door: ``issuing`` (plan → jobs), ``leasing`` (hand out, requeue,
expire) and ``reporting`` (agent events). Every transition appends a ``job_events``
row through :func:`add_events`.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from controller.errors import NotFound
from controller.store.bulk import BulkInsert
from controller.store.engine import Store
from controller.store.statements import id_chunks
from controller.store.tables import job_events, jobs
from schemas.ids import AgentId, JobId
from schemas.jobs import JobAction

MAX_JOB_PAGE = 5000


@dataclass(frozen=True)
class JobRow:
    """A job as handed to an agent (the signer turns it into a JobSpec)."""

    job_id: JobId
    agent_id: AgentId
    client: str
    seq: int
    kind: str
    action: JobAction
    package: str
    version: str
    previous_version: str | None
    deployment: str
    revision: str
    installer: dict[str, Any]
    state: str
    deliveries: int
    created_at: datetime
    expires_at: datetime
    leased_until: datetime | None
    not_before: datetime | None = None
    not_after: datetime | None = None


JOB_ROW_COLUMNS = tuple(jobs.c[name] for name in (
    "id", "agent_id", "client", "seq", "kind", "action", "package", "version", "previous_version",
    "deployment", "revision", "installer", "state", "deliveries", "created_at", "expires_at", "leased_until",
    "not_before", "not_after",
))


def job_row(row: Any) -> JobRow:
    """A :class:`JobRow` from a row selected with :data:`JOB_ROW_COLUMNS` (positionally)."""
    job_id, agent_id, *rest = row
    return JobRow(JobId(job_id), AgentId(agent_id), *rest)


class JobPublic(BaseModel):
    """A job for the operator API and status, including the agent's last output."""

    model_config = ConfigDict(frozen=True)

    job_id: str
    agent_id: str
    client: str
    seq: int
    kind: str
    action: JobAction
    package: str
    version: str
    previous_version: str | None
    deployment: str
    revision: str
    installer: dict[str, Any]
    state: str
    deliveries: int
    created_at: datetime
    expires_at: datetime
    leased_until: datetime | None
    updated_at: datetime
    finished_at: datetime | None
    reason: str
    output: str


class JobEventPublic(BaseModel):
    model_config = ConfigDict(frozen=True)

    at: datetime
    status: str
    reason: str
    message: str
    data: dict[str, Any] | None


def _public(row: Any) -> JobPublic:
    values = dict(row)
    values["job_id"] = values.pop("id")
    return JobPublic.model_validate(values)


EVENT_COLUMNS = ("job_id", "agent_id", "client", "at", "status", "reason", "message", "data")


def add_events(session: Session, events: Sequence[dict[str, Any]]) -> None:
    """Append job events (keys: job_id, agent_id, client, at, status, and optionally reason,
    message, data) in one bulk insert (``COPY`` on PostgreSQL: a reconcile that issues thousands
    of jobs appends as many events)."""
    if not events:
        return
    bulk = BulkInsert(session.connection(), job_events, EVENT_COLUMNS)
    bulk.execute([(event["job_id"], event["agent_id"], event["client"], bulk.value("at", event["at"]),
                   event["status"], event.get("reason", ""), event.get("message", ""),
                   bulk.each("data", event.get("data"))) for event in events])


def get_job(store: Store, job_id: str, client: str | None) -> JobPublic:
    """One job; NotFound when it does not exist or belongs to another client."""
    statement = select(*jobs.c).where(jobs.c.id == job_id)
    if client is not None:
        statement = statement.where(jobs.c.client == client)
    with store.read() as session:
        row = session.execute(statement).mappings().one_or_none()
    if row is None:
        raise NotFound(f"job {job_id} does not exist", hint="find job ids in a deployment's status")
    return _public(row)


def jobs_for_deployment(store: Store, deployment: str, client: str | None, *,
                        states: Sequence[str] | None = None, limit: int = 1000) -> list[JobPublic]:
    """The deployment's jobs visible to ``client``, newest first."""
    statement = (select(*jobs.c).where(jobs.c.deployment == deployment)
                 .order_by(jobs.c.created_at.desc(), jobs.c.id).limit(max(1, min(limit, MAX_JOB_PAGE))))
    if client is not None:
        statement = statement.where(jobs.c.client == client)
    if states:
        statement = statement.where(jobs.c.state.in_(list(states)))
    with store.read() as session:
        return [_public(row) for row in session.execute(statement).mappings()]


def jobs_for_agent(store: Store, agent_id: str, client: str | None, *, limit: int = 50) -> list[JobPublic]:
    """The agent's most recent jobs (highest seq first)."""
    statement = (select(*jobs.c).where(jobs.c.agent_id == agent_id).order_by(jobs.c.seq.desc())
                 .limit(max(1, min(limit, MAX_JOB_PAGE))))
    if client is not None:
        statement = statement.where(jobs.c.client == client)
    with store.read() as session:
        return [_public(row) for row in session.execute(statement).mappings()]


def latest_jobs(store: Store, agent_ids: Collection[str] | None, client: str | None, *,
                per_agent: int = 5) -> dict[str, list[JobPublic]]:
    """Each agent's ``per_agent`` most recent jobs (highest seq first), in one query per chunk
    of agents: for device reports, which must not query per device."""
    rank = func.row_number().over(partition_by=jobs.c.agent_id, order_by=jobs.c.seq.desc()).label("rank")
    found: dict[str, list[JobPublic]] = {}
    with store.read() as session:
        for batch in id_chunks(agent_ids):
            ranked = select(*jobs.c, rank)
            if batch is not None:
                ranked = ranked.where(jobs.c.agent_id.in_(batch))
            if client is not None:
                ranked = ranked.where(jobs.c.client == client)
            inner = ranked.subquery("ranked")
            query = (select(*(inner.c[column.name] for column in jobs.c))
                     .where(inner.c.rank <= max(1, min(per_agent, 100)))
                     .order_by(inner.c.agent_id, inner.c.seq.desc()))
            for row in session.execute(query).mappings():
                found.setdefault(row["agent_id"], []).append(_public(row))
    return found


def list_job_events(store: Store, job_id: str, client: str | None) -> list[JobEventPublic]:
    """A job's history, oldest first; NotFound when the job is not visible to ``client``."""
    table = job_events.c
    visible = select(jobs.c.id).where(jobs.c.id == job_id)
    if client is not None:
        visible = visible.where(jobs.c.client == client)
    with store.read() as session:
        if session.execute(visible).first() is None:
            raise NotFound(f"job {job_id} does not exist", hint="find job ids in a deployment's status")
        rows = session.execute(select(table.at, table.status, table.reason, table.message, table.data)
                               .where(table.job_id == job_id).order_by(table.id)).mappings().all()
    return [JobEventPublic.model_validate(dict(row)) for row in rows]
