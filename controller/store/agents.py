"""Agents: enrolment, authentication, the cheap check-in, and the public view of a device.

An agent enrols once with its client's enrolment token and gets an id and a
credential (``fwa_<agent id>_<secret>``, stored hashed). Its client is fixed at
that moment and never changes. Authenticating is one primary-key read; the
``last_seen_at`` write is skipped when the stored value is recent, so the
steady-state check-in is read-only.

Device labels (what DeviceGroup selectors match) are the enrolment labels
overlaid with the reported facts and the client: facts always win, so no label
can claim another client or another OS.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError
from sqlalchemy import bindparam, insert, or_, select, update

from controller.errors import AccessDenied, ConfigError, NotFound
from controller.store import credentials
from controller.store.audit import ActorKind, record_audit
from controller.store.engine import Store
from controller.store.statements import new_id
from controller.store.tables import agents, enrollment_tokens, jobs
from schemas.protocol import Facts
from schemas.resources import Labels

InventoryWanted = Literal["none", "changed", "full"]

FACT_LABELS = ("os", "os_version", "arch", "hostname")
"""Label keys taken from the agent's facts, overriding enrolment labels."""

LAST_SEEN_RESOLUTION = timedelta(seconds=30)
_LABELS = TypeAdapter(Labels)


@dataclass(frozen=True)
class EnrolledAgent:
    agent_id: str
    client: str
    credential: str
    """Secret; returned once, stored only as a hash."""


@dataclass(frozen=True)
class AgentPrincipal:
    """An authenticated agent, as the request handlers see it."""

    agent_id: str
    client: str
    last_job_seq: int
    inventory_wanted: InventoryWanted
    labels: Mapping[str, str] = field(default_factory=dict)
    """The device labels (what DeviceGroup selectors match); they pick the agent's monitor settings."""


@dataclass(frozen=True)
class CheckinState:
    jobs_pending: bool
    inventory: InventoryWanted


class AgentPublic(BaseModel):
    """A device for the API and status: never the credential hash."""

    model_config = ConfigDict(frozen=True)

    agent_id: str
    client: str
    hostname: str
    labels: dict[str, str]
    """Given at enrolment."""
    device_labels: dict[str, str]
    """What selectors match: ``labels`` overlaid with facts and the client."""
    facts: dict[str, Any]
    enrolled_at: datetime
    last_seen_at: datetime
    last_job_seq: int
    inventory_wanted: InventoryWanted
    revoked_at: datetime | None


def merged_labels(labels: Mapping[str, Any], facts: Mapping[str, Any], client: str) -> dict[str, str]:
    """Enrolment labels, then every fact label (empty when unknown), then ``client``."""
    merged = {str(key): str(value) for key, value in labels.items()}
    for key in FACT_LABELS:
        merged[key] = str(facts.get(key) or "")
    merged["client"] = client
    return merged


def device_labels(agent: AgentPublic) -> dict[str, str]:
    return merged_labels(agent.labels, agent.facts, agent.client)


def _refusal(row: Any, secret: str, now: datetime) -> str | None:
    if row is None:
        return "unknown token"
    if not credentials.matches(secret, row.secret_hash):
        return "wrong secret"
    if row.revoked_at is not None:
        return "token revoked"
    if row.expires_at is not None and row.expires_at <= now:
        return "token expired"
    if row.max_uses is not None and row.uses >= row.max_uses:
        return "token used up"
    return None


def enroll_agent(store: Store, token: str, facts: Facts, labels: Mapping[str, str],
                 now: datetime) -> EnrolledAgent:
    """Create an agent for the token's client, or raise AccessDenied (and audit the refusal)."""
    try:
        clean_labels = _LABELS.validate_python(dict(labels))
    except ValidationError as error:
        raise ConfigError(f"enrolment labels are invalid: {error.errors()[0]['msg']}",
                          hint="labels are key=value with letters, digits, '-', '_' and '.'") from None
    parsed = credentials.parse("fwe", token)
    token_id = parsed[0] if parsed else "malformed-token"
    table = enrollment_tokens.c
    with store.write() as session:
        row = None
        if parsed is not None:
            row = session.execute(
                select(table.client, table.secret_hash, table.expires_at, table.revoked_at, table.max_uses,
                       table.uses).where(table.id == token_id).with_for_update()).one_or_none()
        refusal = _refusal(row, parsed[1], now) if parsed else "malformed token"
        if refusal is None:
            assert row is not None
            # The guard in WHERE makes "max uses" hold even for enrolments racing on PostgreSQL.
            used = session.execute(
                update(enrollment_tokens).where(table.id == token_id)
                .where(or_(table.max_uses.is_(None), table.uses < table.max_uses))
                .values(uses=table.uses + 1))
            if used.rowcount == 1:  # type: ignore[attr-defined]
                agent_id, secret = new_id("a_", 32), credentials.new_secret()
                session.execute(insert(agents).values(
                    id=agent_id, client=row.client, hostname=facts.hostname, labels=clean_labels,
                    facts=facts.model_dump(mode="json"), credential_hash=credentials.hash_secret(secret),
                    enrolled_at=now, last_seen_at=now, last_job_seq=0, inventory_wanted="full",
                    inventory_hashes={}, revoked_at=None, enrolment_token_id=token_id))
                record_audit(session, actor=agent_id, actor_kind="agent", action="agent.enrolled",
                             target=agent_id, client=row.client,
                             detail={"hostname": facts.hostname, "token": token_id}, now=now)
                return EnrolledAgent(agent_id, row.client, credentials.compose("fwa", agent_id, secret))
            refusal = "token used up"
        record_audit(session, actor=f"device {facts.hostname}", actor_kind="agent",
                     action="agent.enrolment-refused", target=token_id,
                     client=row.client if row is not None else None,
                     detail={"reason": refusal, "hostname": facts.hostname}, now=now)
    raise AccessDenied("enrolment token unknown, expired, revoked or used up",
                       hint="ask the MSP for a new token ('fleetward token create --client NAME')")


def authenticate_agent(store: Store, credential: str, now: datetime, *,
                       stamp: Callable[[str, datetime], None] | None = None) -> AgentPrincipal | None:
    """The agent behind a credential, or None. One primary-key read; writes at most every 30 s.

    That write (``last_seen_at``) is done here, or handed to ``stamp(agent_id, now)`` to be done
    later: the API's request threads then never wait for a database writer's turn to answer.
    """
    parsed = credentials.parse("fwa", credential)
    if parsed is None:
        return None
    agent_id, secret = parsed
    table = agents.c
    with store.read() as session:
        row = session.execute(
            select(table.client, table.credential_hash, table.last_job_seq, table.inventory_wanted,
                   table.last_seen_at, table.revoked_at, table.labels, table.facts)
            .where(table.id == agent_id)).one_or_none()
    if row is None or row.revoked_at is not None or not credentials.matches(secret, row.credential_hash):
        return None
    if row.last_seen_at < now - LAST_SEEN_RESOLUTION:
        if stamp is not None:
            stamp(agent_id, now)
        else:
            stamp_last_seen_many(store, {agent_id: now})
    return AgentPrincipal(agent_id, row.client, row.last_job_seq, row.inventory_wanted,
                          merged_labels(row.labels or {}, row.facts or {}, row.client))


def stamp_last_seen_many(store: Store, seen: Mapping[str, datetime]) -> None:
    """Record that each agent of ``seen`` checked in at its time, in one statement and one transaction
    (``last_seen_at`` only ever moves forward)."""
    if not seen:
        return
    table = agents.c
    statement = (update(agents).where(table.id == bindparam("agent"), table.last_seen_at < bindparam("seen"))
                 .values(last_seen_at=bindparam("seen")))
    with store.write() as session:
        session.execute(statement, [{"agent": agent_id, "seen": at} for agent_id, at in sorted(seen.items())])


def checkin(store: Store, agent: AgentPrincipal, seen_seq: int) -> CheckinState:
    """Anything new for ``agent`` beyond ``seen_seq`` (the highest seq it finished)?

    When nothing was issued past ``seen_seq`` the answer needs no query at all. Otherwise
    one indexed read checks that a job is still queued or leased, so a job cancelled
    before delivery does not keep the agent leasing on every check-in.
    """
    pending = False
    if agent.last_job_seq > seen_seq:
        with store.read() as session:
            waiting = select(jobs.c.id).where(jobs.c.agent_id == agent.agent_id,
                                              jobs.c.state.in_(("queued", "leased"))).limit(1)
            pending = session.execute(waiting).first() is not None
    return CheckinState(jobs_pending=pending, inventory=agent.inventory_wanted)


def revoke_agent(store: Store, agent_id: str, client: str | None, *, now: datetime, actor: str,
                 actor_kind: ActorKind = "api-token") -> None:
    """Revoke an agent's credential: it can no longer authenticate and the planner ignores it."""
    with store.write() as session:
        row = session.execute(select(agents.c.client, agents.c.revoked_at).where(
            agents.c.id == agent_id)).one_or_none()
        if row is None or (client is not None and row.client != client):
            raise NotFound(f"agent {agent_id} does not exist", hint="list agents with GET /api/agents")
        if row.revoked_at is None:
            session.execute(update(agents).where(agents.c.id == agent_id).values(revoked_at=now))
            record_audit(session, actor=actor, actor_kind=actor_kind, action="agent.revoked", target=agent_id,
                         client=row.client, now=now)


_PUBLIC = (agents.c.id, agents.c.client, agents.c.hostname, agents.c.labels, agents.c.facts,
           agents.c.enrolled_at, agents.c.last_seen_at, agents.c.last_job_seq, agents.c.inventory_wanted,
           agents.c.revoked_at)


def _public(row: Any) -> AgentPublic:
    return AgentPublic(
        agent_id=row.id, client=row.client, hostname=row.hostname, labels=row.labels,
        device_labels=merged_labels(row.labels, row.facts, row.client), facts=row.facts,
        enrolled_at=row.enrolled_at, last_seen_at=row.last_seen_at, last_job_seq=row.last_job_seq,
        inventory_wanted=row.inventory_wanted, revoked_at=row.revoked_at)


def list_agents(store: Store, client: str | None, *, include_revoked: bool = False, limit: int = 1000,
                offset: int = 0) -> list[AgentPublic]:
    """Devices visible to ``client`` (None: all), by client then hostname."""
    statement = select(*_PUBLIC).order_by(agents.c.client, agents.c.hostname, agents.c.id)
    if client is not None:
        statement = statement.where(agents.c.client == client)
    if not include_revoked:
        statement = statement.where(agents.c.revoked_at.is_(None))
    statement = statement.limit(max(1, min(limit, 10_000))).offset(max(0, offset))
    with store.read() as session:
        return [_public(row) for row in session.execute(statement)]


def get_agent(store: Store, agent_id: str, client: str | None) -> AgentPublic:
    """One device; NotFound when it does not exist or belongs to another client."""
    statement = select(*_PUBLIC).where(agents.c.id == agent_id)
    if client is not None:
        statement = statement.where(agents.c.client == client)
    with store.read() as session:
        row = session.execute(statement).one_or_none()
    if row is None:
        raise NotFound(f"agent {agent_id} does not exist", hint="list agents with GET /api/agents")
    return _public(row)


def get_agents(store: Store, agent_ids: Collection[str]) -> dict[str, AgentPublic]:
    """The devices with these ids that exist, by id (one query: the ticket worker's batch of alerts)."""
    if not agent_ids:
        return {}
    with store.read() as session:
        rows = session.execute(select(*_PUBLIC).where(agents.c.id.in_(sorted(agent_ids)))).all()
    return {found.agent_id: found for found in map(_public, rows)}


def agent_ids_of_clients(store: Store, clients: Collection[str]) -> set[str]:
    """Every (unrevoked) agent of these clients: the devices a one-client commit can affect."""
    if not clients:
        return set()
    with store.read() as session:
        rows = session.execute(select(agents.c.id).where(agents.c.client.in_(sorted(clients)),
                                                         agents.c.revoked_at.is_(None)))
        return set(rows.scalars())
