"""Where each device stands with each deployment: the planner's outcomes, kept for status and the API.

:func:`write_outcomes` diffs the plan's outcomes against the stored rows of the agents
the plan covered and writes only the difference: rows that changed are upserted
(``updated_at`` then says when a device last moved), rows of covered agents that the
plan no longer mentions are deleted (a deployment removed, a device no longer
targeted). An unchanged fleet costs one read per chunk of agents and no write at all.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import bindparam, delete, func, or_, select

from controller.planning.plans import DeviceOutcome
from controller.store.bulk import BulkInsert
from controller.store.engine import Store
from controller.store.statements import id_chunks, upsert
from controller.store.tables import deployment_targets, package_deployments

_FIELDS = ("client", "hostname", "package", "ensure", "version", "state", "reason", "installed_version",
           "action", "wave")


@dataclass(frozen=True)
class OutcomeChanges:
    written: int
    """Rows inserted or changed."""
    deleted: int


class DeploymentTargetRow(BaseModel):
    """One device's standing with one deployment."""

    model_config = ConfigDict(frozen=True)

    deployment: str
    agent_id: str
    client: str
    hostname: str
    package: str
    ensure: str
    version: str
    state: str
    reason: str
    installed_version: str | None
    action: str | None
    wave: int | None = None
    """The rollout wave (1-based) the device is in."""
    updated_at: datetime


class DeploymentSummary(BaseModel):
    model_config = ConfigDict(frozen=True)

    deployment: str
    counts: dict[str, int]
    """Devices per outcome state (converged, pending, running, failed, ...)."""
    total: int


def write_outcomes(store: Store, outcomes: Sequence[DeviceOutcome], covered_agents: Collection[str] | None,
                   now: datetime) -> OutcomeChanges:
    """Make the stored outcomes of ``covered_agents`` (None: every agent) equal ``outcomes``."""
    wanted: dict[tuple[str, str], tuple[Any, ...]] = {
        (outcome.deployment, outcome.agent_id): tuple(getattr(outcome, name) for name in _FIELDS)
        for outcome in outcomes
    }
    # Outcomes of agents outside the covered set are still written, so read their rows too.
    readable = None if covered_agents is None else set(covered_agents) | {agent for _dep, agent in wanted}
    covered = None if covered_agents is None else set(covered_agents)
    table = deployment_targets.c
    stored: dict[tuple[str, str], tuple[Any, ...]] = {}
    with store.read() as session:
        for batch in id_chunks(readable):
            query = select(table.deployment, table.agent_id, *(table[name] for name in _FIELDS))
            if batch is not None:
                query = query.where(table.agent_id.in_(batch))
            stored.update({(row[0], row[1]): tuple(row[2:]) for row in session.execute(query)})
    changed = [key for key, values in wanted.items() if stored.get(key) != values]
    gone = [key for key in stored if key not in wanted and (covered is None or key[1] in covered)]
    if not changed and not gone:
        return OutcomeChanges(written=0, deleted=0)
    # Upserts and deletes by primary key stay correct if another replica wrote in between.
    with store.write() as session:
        if session.get_bind().dialect.name == "postgresql":
            # A wave moves thousands of devices at once: one COPY and one merge, not a statement each.
            bulk = BulkInsert(session.connection(), deployment_targets,
                              ("deployment", "agent_id", *_FIELDS, "updated_at"))
            at = bulk.value("updated_at", now)
            bulk.upsert([(*key, *wanted[key], at) for key in changed], keys=("deployment", "agent_id"),
                        update=(*_FIELDS, "updated_at"))
        else:
            upsert(session, deployment_targets, [
                {"deployment": key[0], "agent_id": key[1], **dict(zip(_FIELDS, wanted[key], strict=True)),
                 "updated_at": now} for key in changed],
                keys=("deployment", "agent_id"), update=(*_FIELDS, "updated_at"))
        if gone:
            session.execute(
                delete(deployment_targets).where(table.deployment == bindparam("dep"),
                                                 table.agent_id == bindparam("agent")),
                [{"dep": deployment, "agent": agent_id} for deployment, agent_id in gone])
    return OutcomeChanges(written=len(changed), deleted=len(gone))


def deployment_status(store: Store, deployment: str, client: str | None) -> list[DeploymentTargetRow]:
    """Every device of ``deployment`` visible to ``client``, by client then hostname."""
    table = deployment_targets.c
    statement = select(*deployment_targets.c).where(table.deployment == deployment).order_by(
        table.client, table.hostname, table.agent_id)
    if client is not None:
        statement = statement.where(table.client == client)
    with store.read() as session:
        rows = session.execute(statement).mappings().all()
    return [DeploymentTargetRow.model_validate(dict(row)) for row in rows]


def device_targets(store: Store, agent_ids: Collection[str] | None, client: str | None
                   ) -> list[DeploymentTargetRow]:
    """Outcomes per device (all devices when ``agent_ids`` is None), for device reports."""
    table = deployment_targets.c
    found: list[DeploymentTargetRow] = []
    with store.read() as session:
        for batch in id_chunks(agent_ids):
            statement = select(*deployment_targets.c).order_by(table.agent_id, table.deployment)
            if batch is not None:
                statement = statement.where(table.agent_id.in_(batch))
            if client is not None:
                statement = statement.where(table.client == client)
            found += [DeploymentTargetRow.model_validate(dict(row))
                      for row in session.execute(statement).mappings()]
    return found


def deployment_summaries(store: Store, client: str | None) -> list[DeploymentSummary]:
    """Devices per state for every deployment visible to ``client``, including deployments
    of the applied revision that target no device yet; sorted by deployment id."""
    table = deployment_targets.c
    counting = select(table.deployment, table.state, func.count()).group_by(table.deployment, table.state)
    declared = select(package_deployments.c.id)
    if client is not None:
        counting = counting.where(table.client == client)
        declared = declared.where(or_(package_deployments.c.client.is_(None),
                                      package_deployments.c.client == client))
    counts: dict[str, dict[str, int]] = {}
    with store.read() as session:
        for deployment_id, state, count in session.execute(counting):
            counts.setdefault(deployment_id, {})[state] = count
        for (deployment_id,) in session.execute(declared):
            counts.setdefault(deployment_id, {})
    return [DeploymentSummary(deployment=deployment_id, counts=dict(sorted(per_state.items())),
                              total=sum(per_state.values()))
            for deployment_id, per_state in sorted(counts.items())]

