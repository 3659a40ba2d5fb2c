"""Compliance roll-ups: per device, device group, client and policy, in aggregate SQL.

Each (policy, target agent) pair of ``policy_assignments`` has exactly one status: the agent's
current result for the policy *at the assigned version*, or ``unknown`` when there is none -
never reported, reported only for an older version, or a policy the controller could not
deliver. So a device that never reported counts as unknown, not compliant. The store keeps that
status on the assignment row itself (``policy_assignments.status``, None for unknown, written
at ingest and when assignments change: :mod:`controller.store.policies`), so a roll-up is counting
one table, never a join with the results nor a row per pair in Python.

Two ``GROUP BY`` passes, each along a covering index, each row holding the five counts
(``COUNT(*) FILTER (WHERE status ...)``): per (client, policy) - summed into policies, clients and
the totals - and per agent, one row a device, summed through their members into groups.
10,000 agents with 30 policies each are 300,000 pairs counted by the database.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from controller.store.engine import Store
from controller.store.tables import agents, device_group_members, policy_assignments

ComplianceStatus = Literal["compliant", "non_compliant", "error", "not_applicable", "unknown"]
STATUSES: tuple[ComplianceStatus, ...] = ("compliant", "non_compliant", "error", "not_applicable", "unknown")


class Counts(BaseModel):
    compliant: int = 0
    non_compliant: int = 0
    error: int = 0
    not_applicable: int = 0
    unknown: int = 0
    total: int = 0


class PolicyRollup(BaseModel):
    policy: str
    counts: Counts


class ClientRollup(BaseModel):
    client: str
    counts: Counts


class GroupRollup(BaseModel):
    group: str
    counts: Counts


class DeviceRollup(BaseModel):
    agent_id: str
    hostname: str
    client: str
    counts: Counts


class Compliance(BaseModel):
    totals: Counts
    policies: list[PolicyRollup]
    clients: list[ClientRollup]
    groups: list[GroupRollup]
    devices: list[DeviceRollup]
    devices_truncated: bool = False


class ComplianceFilter(BaseModel):
    client: str | None = None
    group: str | None = None
    policy: str | None = None
    device: str | None = None
    """An agent id or a hostname."""
    status: ComplianceStatus | None = None


def _conditions(filters: ComplianceFilter) -> list[ColumnElement[bool]]:
    """The WHERE of every roll-up: which assignments ``filters`` selects."""
    assigned = policy_assignments.c
    found: list[ColumnElement[bool]] = []
    if filters.client is not None:
        found.append(assigned.client == filters.client)
    if filters.policy is not None:
        found.append(assigned.policy_id == filters.policy)
    if filters.group is not None:
        members = select(device_group_members.c.agent_id).where(device_group_members.c.group_id == filters.group)
        found.append(assigned.agent_id.in_(members))
    if filters.device is not None:
        named = select(agents.c.id).where(or_(agents.c.id == filters.device, agents.c.hostname == filters.device))
        found.append(assigned.agent_id.in_(named))
    if filters.status is not None:
        found.append(assigned.status.is_(None) if filters.status == "unknown" else assigned.status == filters.status)
    return found


def _by_status() -> list[Any]:
    """Five counts, in the order of :data:`STATUSES` (a NULL status is unknown): one row per group."""
    status = policy_assignments.c.status
    return [func.count().filter(status.is_(None) if name == "unknown" else status == name) for name in STATUSES]


def _counts(values: Sequence[int]) -> Counts:
    return Counts(**dict(zip(STATUSES, values, strict=True)), total=sum(values))


def _add(into: list[int], values: Sequence[int]) -> None:
    for index, number in enumerate(values):
        into[index] += number


def _per_client_and_policy(session: Session, filters: ComplianceFilter) -> list[tuple[Any, ...]]:
    """(client, policy, five counts) for each pair with a selected assignment: at most a few thousand rows."""
    assigned = policy_assignments.c
    return [tuple(row) for row in session.execute(
        select(assigned.client, assigned.policy_id, *_by_status())
        .where(*_conditions(filters)).group_by(assigned.client, assigned.policy_id))]


def client_policy_counts(store: Store) -> dict[tuple[str, str], Counts]:
    """(client, policy) -> counts, for the status branch's per-client tables."""
    with store.read() as session:
        rows = _per_client_and_policy(session, ComplianceFilter())
    return {(client, policy): _counts(values) for client, policy, *values in rows}


def compliance(store: Store, filters: ComplianceFilter, *, device_limit: int = 1000) -> Compliance:
    """Roll-ups of the assignments ``filters`` selects (``client`` also scopes a client's token).

    Devices come most failing (non-compliant plus error) first, then by agent id; at most
    ``device_limit`` of them (``devices_truncated`` says when more matched).
    """
    assigned, member = policy_assignments.c, device_group_members.c
    conditions = _conditions(filters)
    per_agent = select(assigned.agent_id, *_by_status()).where(*conditions).group_by(assigned.agent_id).subquery()
    devices_query = (select(per_agent.c.agent_id, agents.c.hostname, agents.c.client,
                            *list(per_agent.c)[1:])
                     .join(agents, agents.c.id == per_agent.c.agent_id))
    members_query = select(member.group_id, member.agent_id)
    if filters.client is not None:
        members_query = members_query.where(member.client == filters.client)
    if any(value is not None for value in (filters.policy, filters.group, filters.device, filters.status)):
        members_query = members_query.where(member.agent_id.in_(select(assigned.agent_id).where(*conditions)))
    with store.read() as session:
        pairs = _per_client_and_policy(session, filters)
        devices = {agent: (hostname, client, values)
                   for agent, hostname, client, *values in session.execute(devices_query)}
        members = session.execute(members_query).all() if devices else []
    width = len(STATUSES)
    totals = [0] * width
    policies: dict[str, list[int]] = {}
    clients: dict[str, list[int]] = {}
    for client, policy, *values in pairs:
        for bucket in (totals, policies.setdefault(policy, [0] * width), clients.setdefault(client, [0] * width)):
            _add(bucket, values)
    groups: dict[str, list[int]] = {}
    for group, agent in members:
        if agent in devices:  # a member without a selected assignment adds nothing
            _add(groups.setdefault(group, [0] * width), devices[agent][2])
    failing = (STATUSES.index("non_compliant"), STATUSES.index("error"))
    ordered = sorted(devices.items(), key=lambda item: (-sum(item[1][2][index] for index in failing),
                                                        item[0], item[1][0], item[1][1]))
    return Compliance(
        totals=_counts(totals),
        policies=[PolicyRollup(policy=key, counts=_counts(value)) for key, value in sorted(policies.items())],
        clients=[ClientRollup(client=key, counts=_counts(value)) for key, value in sorted(clients.items())],
        groups=[GroupRollup(group=key, counts=_counts(value)) for key, value in sorted(groups.items())],
        devices=[DeviceRollup(agent_id=agent, hostname=hostname, client=client, counts=_counts(values))
                 for agent, (hostname, client, values) in ordered[:device_limit]],
        devices_truncated=len(ordered) > device_limit,
    )
