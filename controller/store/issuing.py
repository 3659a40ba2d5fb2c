"""Turn a plan into jobs: assign per-agent sequence numbers, insert, cancel what is stale.

Everything happens in one transaction with a fixed number of statements per chunk
of agents, whatever the size of the plan: read the agents' ``last_job_seq`` (locked
on PostgreSQL so two controller replicas cannot hand out the same seq; SQLite's
write transaction already holds the database lock), bulk-insert the jobs, bulk-update
the agents, cancel the plan's cancellations that are still queued, append events,
and write one audit row for the batch.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, insert, select, update

from controller.planning.plans import Plan
from controller.store.audit import record_audit
from controller.store.engine import Store
from controller.store.jobs import add_events
from controller.store.statements import chunks, new_id
from controller.store.tables import agents, jobs
from schemas.ids import JobId


def issue_jobs(store: Store, plan: Plan, revision: str, now: datetime, job_ttl: timedelta) -> list[JobId]:
    """Insert the plan's jobs (in plan order) and apply its cancellations; returns the new job ids.

    Intents for agents that are unknown or revoked are skipped. Cancellations only
    touch jobs still queued: a leased or running job is in the agent's hands.
    """
    affected = sorted({intent.agent_id for intent in plan.jobs})
    issued: list[JobId] = []
    with store.write() as session:
        # Each agent's current seq and its stored client (the client of a job is the agent's, always).
        known: dict[str, tuple[int, str]] = {}
        for batch in chunks(affected):
            for agent_id, seq, client in session.execute(
                    select(agents.c.id, agents.c.last_job_seq, agents.c.client)
                    .where(agents.c.id.in_(batch), agents.c.revoked_at.is_(None))
                    .with_for_update()):
                known[agent_id] = (seq, client)
        rows: list[dict[str, Any]] = []
        next_seq: dict[str, int] = {}
        for intent in plan.jobs:
            if intent.agent_id not in known:
                continue
            next_seq[intent.agent_id] = next_seq.get(intent.agent_id, known[intent.agent_id][0]) + 1
            job_id = JobId(new_id("j_", 32))
            issued.append(job_id)
            rows.append({
                "id": job_id, "agent_id": intent.agent_id, "client": known[intent.agent_id][1],
                "seq": next_seq[intent.agent_id], "kind": "package", "action": intent.action,
                "package": intent.package, "version": intent.version,
                "previous_version": intent.previous_version, "deployment": intent.deployment,
                "revision": revision,
                "installer": intent.installer.model_dump(mode="json"), "state": "queued", "deliveries": 0,
                "not_before": intent.not_before, "not_after": intent.not_after,
                # A job for a later window lives until that window closes.
                "created_at": now, "expires_at": max(now + job_ttl, intent.not_after or now),
                "leased_until": None, "updated_at": now,
                "finished_at": None, "reason": "", "output": "",
            })
        if rows:
            session.execute(insert(jobs), rows)
            session.execute(
                update(agents).where(agents.c.id == bindparam("agent")).values(last_job_seq=bindparam("seq")),
                [{"agent": agent_id, "seq": seq} for agent_id, seq in next_seq.items()])
        cancelled = _cancel_queued(session, plan, now)
        add_events(session, [
            {"job_id": row["id"], "agent_id": row["agent_id"], "client": row["client"], "at": now,
             "status": "queued", "data": {"seq": row["seq"], "revision": revision}} for row in rows
        ] + cancelled)
        if rows or cancelled:
            per_deployment = Counter(row["deployment"] for row in rows)
            record_audit(session, actor="reconciler", actor_kind="system", action="jobs.issued",
                         target=revision, detail={"jobs": len(rows), "cancelled": len(cancelled),
                                 "deployments": dict(sorted(per_deployment.items()))}, now=now)
    return issued


def _cancel_queued(session: Any, plan: Plan, now: datetime) -> list[dict[str, Any]]:
    """Cancel the plan's cancellations whose job is still queued; returns their events."""
    wanted = {cancel.job_id: cancel for cancel in plan.cancellations}
    events: list[dict[str, Any]] = []
    for batch in chunks(sorted(wanted)):
        queued = session.execute(
            select(jobs.c.id, jobs.c.agent_id, jobs.c.client)
            .where(jobs.c.id.in_(batch), jobs.c.state == "queued").with_for_update()).all()
        # The plan names the agent too; a mismatch means a stale or forged id, so leave that job alone.
        queued = [row for row in queued if wanted[row.id].agent_id == row.agent_id]
        if not queued:
            continue
        session.execute(
            update(jobs).where(jobs.c.id == bindparam("job"), jobs.c.state == "queued")
            .values(state="cancelled", reason=bindparam("why"), finished_at=now, updated_at=now),
            [{"job": row.id, "why": wanted[row.id].reason} for row in queued])
        events += [{"job_id": row.id, "agent_id": row.agent_id, "client": row.client, "at": now,
                    "status": "cancelled", "reason": wanted[row.id].reason} for row in queued]
    return events
