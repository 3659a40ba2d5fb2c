"""Policy automation in SQL: assignments and group members, results, history, run-now requests.

* assignments (which agents each Policy targets, at which version) and device-group members are
  written by the reconciler from the planner's targeting, as differences only;
* results from agents go to ``policy_execution_history`` (idempotent per agent and result id,
  capped at :data:`HISTORY_PER_POLICY` runs per agent and policy) and update the one current row
  per (agent, policy) in ``policy_compliance`` unless a newer result is already there;
* ``policy_assignments.status`` mirrors that current row while it is for the assigned version
  (None, counted unknown, otherwise), so compliance roll-ups count one table. Both writers keep
  it: ingest when the current row changes, assignment writes for the rows they add or move. On
  PostgreSQL they take one advisory lock (ingest shared, assignment writes exclusive), so neither
  misses the other's uncommitted change; SQLite has one writer anyway;
* run-now requests are one row per (request, agent), pending until that agent reports the policy
  for that request.

Every reader takes the caller's client scope.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import and_, bindparam, case, delete, insert, select, text, update
from sqlalchemy.orm import Session

from controller.errors import NotFound
from controller.store.engine import Store
from controller.store.statements import chunks, id_chunks, new_id
from controller.store.tables import (
    agents,
    device_group_members,
    policy_assignments,
    policy_compliance,
    policy_execution_history,
    policy_run_requests,
)
from schemas.protocol import PolicyResult, PolicyRunRequest

HISTORY_PER_POLICY = 100
"""Runs kept per agent and policy; older ones are deleted as new ones arrive."""
RUN_REQUEST_TTL = timedelta(days=1)
"""A run-now request an agent has not answered within this long is dropped (the agent was away)."""
_STATUS_LOCK = 0x466C_7374_6174
"""PostgreSQL advisory lock between results ingest (shared) and assignment writes (exclusive)."""


@dataclass(frozen=True)
class Assignment:
    policy_id: str
    agent_id: str
    client: str
    version: str


@dataclass(frozen=True)
class GroupMember:
    group_id: str
    agent_id: str
    client: str


def write_assignments(store: Store, assignments: Iterable[Assignment], members: Iterable[GroupMember],
                      agent_ids: Collection[str] | None) -> int:
    """Make the rows of ``agent_ids`` (None: every agent) exactly these; returns how many rows changed."""
    wanted_a = {(row.policy_id, row.agent_id): row for row in assignments}
    wanted_g = {(row.group_id, row.agent_id): row for row in members}
    changed = 0
    with store.write() as session:
        changed += _sync(session, policy_assignments, ("policy_id", "agent_id"), wanted_a, agent_ids,
                         compare=lambda row: row.version, prepare=_with_current_status)
        changed += _sync(session, device_group_members, ("group_id", "agent_id"), wanted_g, agent_ids,
                         compare=lambda row: row.client)
    return changed


def _sync(session: Session, table: Any, keys: tuple[str, str], wanted: Mapping[tuple[str, str], Any],
          agent_ids: Collection[str] | None, compare: Any,
          prepare: Callable[[Session, list[dict[str, Any]]], None] | None = None) -> int:
    """Write the differences (``prepare`` completes the rows to insert first); returns how many rows changed.

    Rows go and come by (first key, chunk of agents), which an index serves on both engines; a list
    of (first, agent) pairs made PostgreSQL scan the table for every chunk."""
    first, second = table.c[keys[0]], table.c[keys[1]]
    have: dict[tuple[str, str], str] = {}
    for chunk in id_chunks(agent_ids):
        query = select(first, second, table.c.version if "version" in table.c else table.c.client)
        if chunk is not None:
            query = query.where(second.in_(chunk))
        have.update({(row[0], row[1]): row[2] for row in session.execute(query)})
    gone = [key for key in have if key not in wanted]
    fresh = [row for key, row in wanted.items() if key not in have]
    moved = [row for key, row in wanted.items() if key in have and have[key] != compare(row)]
    rows = [dict(vars(row)) for row in fresh + moved]
    if prepare is not None and (gone or rows):
        prepare(session, rows)
    for name, agents_of in _by_first(gone + [(getattr(row, keys[0]), row.agent_id) for row in moved]):
        session.execute(delete(table).where(first == name, second.in_(agents_of)))
    for batch in chunks(rows):
        session.execute(insert(table), batch)
    return len(gone) + len(fresh) + len(moved)


def _by_first(pairs: Iterable[tuple[str, str]]) -> Iterator[tuple[str, list[str]]]:
    """(first, a chunk of its seconds) for ``pairs``, sorted."""
    grouped: dict[str, list[str]] = {}
    for name, agent in pairs:
        grouped.setdefault(name, []).append(agent)
    for name in sorted(grouped):
        for chunk in chunks(sorted(grouped[name])):
            yield name, chunk


def _with_current_status(session: Session, rows: list[dict[str, Any]]) -> None:
    """Give each assignment about to be written its agent's current result when it is for its version.

    Under the exclusive status lock: a result being stored now is either committed and read here,
    or waits and then updates the new row itself."""
    _lock_status(session, exclusive=True)
    current = policy_compliance.c
    found: dict[tuple[str, str], tuple[str, str]] = {}
    for policy, agents_of in _by_first((row["policy_id"], row["agent_id"]) for row in rows):
        found.update({(policy, result.agent_id): (result.version, result.status) for result in session.execute(
            select(current.agent_id, current.version, current.status)
            .where(current.policy_id == policy, current.agent_id.in_(agents_of)))})
    for row in rows:
        result = found.get((row["policy_id"], row["agent_id"]))
        row["status"] = result[1] if result is not None and result[0] == row["version"] else None


def _lock_status(session: Session, *, exclusive: bool) -> None:
    if session.get_bind().dialect.name == "postgresql":
        function = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
        session.execute(text(f"SELECT {function}(:key)"), {"key": _STATUS_LOCK})


def store_policy_results(store: Store, agent_id: str, client: str, results: Sequence[PolicyResult],
                         now: datetime) -> list[str]:
    """Store ``results`` of ``agent_id``; returns the ids now stored (those stored before included)."""
    if not results:
        return []
    history = policy_execution_history.c
    assigned = policy_assignments.c
    with store.write() as session:
        _lock_status(session, exclusive=False)
        known = set(session.execute(select(history.result_id).where(
            history.agent_id == agent_id, history.result_id.in_([result.id for result in results]))).scalars())
        current = {row.policy_id: row.checked_at for row in session.execute(
            select(policy_compliance.c.policy_id, policy_compliance.c.checked_at)
            .where(policy_compliance.c.agent_id == agent_id))}
        renewed: dict[str, tuple[str, str]] = {}  # policy -> the new current (version, status)
        for result in sorted(results, key=lambda item: item.finished_at):
            if result.id in known:
                continue
            known.add(result.id)
            finished = min(result.finished_at, now)  # a clock ahead of ours must not date results in the future
            checks = [check.model_dump(mode="json", exclude_defaults=True) for check in result.checks]
            history_id = session.execute(insert(policy_execution_history).values(
                result_id=result.id, agent_id=agent_id, client=client, policy_id=result.policy_id,
                version=result.version, status=result.status, mode=result.mode, trigger=result.trigger,
                run_request=result.run_request, started_at=min(result.started_at, finished),
                finished_at=finished, received_at=now, checks=checks).returning(history.id)).scalar_one()
            _cap_history(session, agent_id, result.policy_id)
            if result.run_request is not None:
                session.execute(update(policy_run_requests).where(
                    policy_run_requests.c.id == result.run_request, policy_run_requests.c.agent_id == agent_id,
                    policy_run_requests.c.policy_id == result.policy_id).values(done_at=now))
            held = current.get(result.policy_id)
            if held is not None and held > finished:
                continue  # an older run arriving late does not overwrite the newer state
            values = {"client": client, "version": result.version, "status": result.status, "mode": result.mode,
                      "checked_at": finished, "history_id": history_id,
                      "failing": [check for check in checks if check["status"] != "compliant"]}
            if held is None:
                session.execute(insert(policy_compliance).values(agent_id=agent_id, policy_id=result.policy_id,
                                                                 **values))
            else:
                session.execute(update(policy_compliance).where(
                    policy_compliance.c.agent_id == agent_id,
                    policy_compliance.c.policy_id == result.policy_id).values(**values))
            current[result.policy_id] = finished
            renewed[result.policy_id] = (result.version, result.status)
        if renewed:  # one statement for the report, not one per result
            session.execute(update(policy_assignments).where(
                assigned.agent_id == agent_id, assigned.policy_id == bindparam("b_policy"),
            ).values(status=case((assigned.version == bindparam("b_version"), bindparam("b_status")), else_=None)),
                [{"b_policy": policy, "b_version": version, "b_status": status}
                 for policy, (version, status) in sorted(renewed.items())])
    return [result.id for result in results]


def _cap_history(session: Session, agent_id: str, policy_id: str) -> None:
    history = policy_execution_history.c
    oldest_kept = session.execute(
        select(history.id).where(history.agent_id == agent_id, history.policy_id == policy_id)
        .order_by(history.id.desc()).offset(HISTORY_PER_POLICY - 1).limit(1)).scalar_one_or_none()
    if oldest_kept is not None:
        session.execute(delete(policy_execution_history).where(
            history.agent_id == agent_id, history.policy_id == policy_id, history.id < oldest_kept))


def request_runs(store: Store, policy_id: str, client: str | None, agent_ids: Collection[str] | None,
                 *, actor: str, now: datetime) -> tuple[str, list[str]]:
    """A run-now of ``policy_id`` on its assigned agents (all, or those of ``agent_ids``) within ``client``
    scope; returns the request id and the agents asked. NotFound when no such agent is assigned."""
    table = policy_assignments.c
    query = select(table.agent_id, table.client).where(table.policy_id == policy_id, table.version != "")
    if client is not None:
        query = query.where(table.client == client)
    with store.write() as session:
        targets = [(row.agent_id, row.client) for row in session.execute(query.order_by(table.agent_id))]
        if agent_ids is not None:
            unknown = sorted(set(agent_ids) - {agent for agent, _client in targets})
            if unknown:
                raise NotFound(f"policy {policy_id} is not assigned to {', '.join(unknown[:10])}",
                               hint="name agents the policy targets (GET /api/compliance?policy=...)")
            targets = [target for target in targets if target[0] in set(agent_ids)]
        if not targets:
            raise NotFound(f"policy {policy_id} targets no device visible to this token",
                           hint="policy ids are 'name' (MSP-wide) or 'client.name'")
        request_id = new_id("pr_", 24)
        for batch in chunks(targets):
            session.execute(insert(policy_run_requests), [
                {"id": request_id, "agent_id": agent, "policy_id": policy_id, "client": owner,
                 "requested_by": actor, "requested_at": now, "done_at": None} for agent, owner in batch])
    return request_id, [agent for agent, _client in targets]


def pending_runs(store: Store, now: datetime) -> dict[str, list[PolicyRunRequest]]:
    """Every agent's unanswered run-now requests (one indexed read for the whole fleet)."""
    table = policy_run_requests.c
    found: dict[str, list[PolicyRunRequest]] = {}
    with store.read() as session:
        rows = session.execute(select(table.agent_id, table.id, table.policy_id).where(
            table.done_at.is_(None), table.requested_at > now - RUN_REQUEST_TTL).order_by(table.id))
        for row in rows:
            found.setdefault(row.agent_id, []).append(PolicyRunRequest(id=row.id, policy_id=row.policy_id))
    return found


class PolicyRun(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    agent_id: str
    hostname: str
    client: str
    policy_id: str
    version: str
    status: str
    mode: str
    trigger: str
    run_request: str | None
    started_at: datetime
    finished_at: datetime
    checks: list[dict[str, Any]]


def policy_history(store: Store, policy_id: str, client: str | None, *, agent_id: str | None = None,
                   before: int | None = None, limit: int = 50) -> list[PolicyRun]:
    """Runs of ``policy_id``, newest first, ``limit`` at a time (page on with ``before`` = last id)."""
    history = policy_execution_history.c
    query = (select(history.id, history.agent_id, agents.c.hostname, history.client, history.policy_id,
                    history.version, history.status, history.mode, history.trigger, history.run_request,
                    history.started_at, history.finished_at, history.checks)
             .join(agents, agents.c.id == history.agent_id)
             .where(history.policy_id == policy_id).order_by(history.id.desc()).limit(limit))
    if client is not None:
        query = query.where(history.client == client)
    if agent_id is not None:
        query = query.where(history.agent_id == agent_id)
    if before is not None:
        query = query.where(history.id < before)
    with store.read() as session:
        return [PolicyRun.model_validate(dict(row)) for row in session.execute(query).mappings()]


def failing_checks(store: Store, client: str | None) -> list[dict[str, Any]]:
    """Every (device, policy) whose current result is not compliant, with its failing checks' evidence."""
    current = policy_compliance.c
    query = (select(current.agent_id, agents.c.hostname, current.client, current.policy_id, current.status,
                    current.mode, current.checked_at, current.failing)
             .join(agents, agents.c.id == current.agent_id)
             .join(policy_assignments, and_(policy_assignments.c.agent_id == current.agent_id,
                                            policy_assignments.c.policy_id == current.policy_id,
                                            policy_assignments.c.version == current.version))
             .where(current.status.in_(("non_compliant", "error")))
             .order_by(current.client, agents.c.hostname, current.policy_id))
    if client is not None:
        query = query.where(current.client == client)
    with store.read() as session:
        return [dict(row) for row in session.execute(query).mappings()]

