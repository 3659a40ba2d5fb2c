"""Builders for the store tests: enrolled agents, plans, events, commits, raw table reads."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import func, select

from controller.planning.plans import Cancellation, DeviceOutcome, JobIntent, Plan
from controller.store import (
    AgentPrincipal,
    EnrolledAgent,
    Store,
    authenticate_agent,
    create_enrollment_token,
    enroll_agent,
)
from controller.store.tables import Base
from schemas.ids import AgentId, JobId
from schemas.packages import ArchiveInstaller
from schemas.protocol import Facts, JobEvent, ManagedItem

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
SHA = "c" * 40
INSTALLER = ArchiveInstaller(os="linux", type="archive", url="https://artifacts.example/tool-1.0.0.tar.gz",
                             sha256="0" * 64)


def enroll(store: Store, client: str = "acme", hostname: str = "host-1", *, os: str = "linux",
           labels: Mapping[str, str] | None = None, now: datetime = NOW) -> EnrolledAgent:
    token = create_enrollment_token(store, client, created_by="tests", now=now)
    facts = Facts(hostname=hostname, os=os, os_version="12", arch="x86_64")  # type: ignore[arg-type]
    return enroll_agent(store, token, facts, dict(labels or {}), now)


def principal(store: Store, enrolled: EnrolledAgent, now: datetime = NOW) -> AgentPrincipal:
    found = authenticate_agent(store, enrolled.credential, now)
    assert found is not None
    return found


def intent(agent: EnrolledAgent, package: str = "tool", version: str = "1.0.0", *, action: str = "install",
           deployment: str = "acme.tool", previous: str | None = None) -> JobIntent:
    return JobIntent(agent_id=AgentId(agent.agent_id), client=agent.client, deployment=deployment,
                     action=action, package=package, version=version,  # type: ignore[arg-type]
                     installer=INSTALLER, previous_version=previous)


def plan(*intents: JobIntent, cancellations: tuple[Cancellation, ...] = ()) -> Plan:
    return Plan(revision=SHA, jobs=intents, cancellations=cancellations)


def cancel(job_id: str, agent: EnrolledAgent, reason: str = "superseded by a newer plan") -> Cancellation:
    return Cancellation(job_id=JobId(job_id), agent_id=AgentId(agent.agent_id), reason=reason)


def event(status: str, *, reason: str = "", managed: tuple[str, str] | None = None, **extra: object) -> JobEvent:
    item = ManagedItem(package=managed[0], version=managed[1]) if managed else None
    return JobEvent(status=status, reason=reason, managed=item, **extra)  # type: ignore[arg-type]


def outcome(agent: EnrolledAgent, deployment: str = "acme.tool", *, state: str = "pending",
            reason: str = "", package: str = "tool", hostname: str = "host-1") -> DeviceOutcome:
    return DeviceOutcome(deployment=deployment, agent_id=AgentId(agent.agent_id), client=agent.client,
                         hostname=hostname, package=package, ensure="present", version="1.0.0",
                         state=state, reason=reason)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Commit:
    author_name: str = "Ada"
    author_email: str = "ada@msp.example"
    committed_at: datetime | None = NOW
    summary: str = "Deploy tool"


def rows(store: Store, table: str, **where: Any) -> list[dict[str, Any]]:
    """Every row of ``table`` (matching ``where``) as dicts, in primary-key order."""
    model = Base.metadata.tables[table]
    query = select(model).order_by(*model.primary_key.columns)
    for column, value in where.items():
        query = query.where(model.c[column] == value)
    with store.read() as session:
        return [dict(row) for row in session.execute(query).mappings()]


def count(store: Store, table: str) -> int:
    with store.read() as session:
        total = session.execute(select(func.count()).select_from(Base.metadata.tables[table])).scalar_one()
    return int(total)


@contextmanager
def statements(store: Store) -> Iterator[list[str]]:
    """The SQL statements the store sends while the block runs, as their first two words."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, sql: str, params: Any, context: Any, many: bool) -> None:
        seen.append(" ".join(sql.split()[:2]).upper())

    sa_event.listen(store.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa_event.remove(store.engine, "before_cursor_execute", record)


def writes(seen: list[str]) -> list[str]:
    """Statements that change data or take SQLite's write lock."""
    changes = ("INSERT", "UPDATE", "DELETE")
    return [sql for sql in seen if sql.split()[0] in changes or sql == "BEGIN IMMEDIATE"]
