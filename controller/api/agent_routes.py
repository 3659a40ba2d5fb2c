"""The agent protocol under /api/agent/v1: enrol, check in, report inventory and alerts, lease jobs, report events,
fetch the policy bundle and report policy results.

Handlers are thin: authenticate, call the store, sign, notify the reconciler. Every
query is scoped to the calling agent; touching another agent's job is refused and
audited by the store.
"""

from __future__ import annotations

import asyncio
import functools
from datetime import timedelta

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from controller.api.auth import AgentDep, ContextDep
from controller.api.context import ApiContext
from controller.api.problems import ApiError
from controller.api.seal_routes import sealing_keys
from controller.jobs.payloads import job_spec
from controller.policies.alerting import apply_policy_alerts
from controller.secrets import seal
from controller.store import (
    AgentPrincipal,
    AlertChange,
    CheckinState,
    InventoryUpload,
    ReportedAlerts,
    checkin,
    enroll_agent,
    ingest_inventory,
    lease_jobs,
    record_alert_changes,
    record_audit,
    record_job_event,
)
from controller.store.policies import store_policy_results
from schemas.inventory import AgentConfig
from schemas.jobs import canonical_json
from schemas.protocol import (
    AGENT_API_PREFIX,
    MAX_BUNDLE_BYTES,
    POLICY_BUNDLE_SIGNATURE_CONTEXT,
    AlertAck,
    AlertReport,
    CheckinRequest,
    CheckinResponse,
    EnrollRequest,
    EnrollResponse,
    InventoryAck,
    InventoryReport,
    JobEvent,
    JobEventAck,
    LeaseRequest,
    LeaseResponse,
    PolicyResultAck,
    PolicyResultReport,
    SignedPolicyBundle,
)

router = APIRouter(prefix=AGENT_API_PREFIX, tags=["agent protocol"])


@router.post("/enroll", status_code=201, response_model=EnrollResponse)
def enroll(body: EnrollRequest, ctx: ContextDep) -> EnrollResponse:
    """Exchange a client's enrolment token for an agent identity and the job-signing keys."""
    enrolled = enroll_agent(ctx.store, body.token, body.facts, body.labels, ctx.now())
    ctx.notifier.agent_changed(enrolled.agent_id)
    return EnrollResponse(
        agent_id=enrolled.agent_id, client=enrolled.client, credential=enrolled.credential,
        signing_keys=ctx.signer.public_keys(),
        checkin_interval_seconds=ctx.settings.checkin_interval,
    )


@router.post("/checkin", response_model=CheckinResponse)
async def checkin_route(body: CheckinRequest, agent: AgentDep, ctx: ContextDep) -> CheckinResponse:
    """Cheap "anything new?": in the steady state no database access at all (the principal
    is remembered for a moment, and nothing issued past ``seen_seq`` needs no query)."""
    if agent.last_job_seq > body.seen_seq:
        state = await run_in_threadpool(checkin, ctx.store, agent, body.seen_seq)
    else:
        state = CheckinState(jobs_pending=False, inventory=agent.inventory_wanted)
    return CheckinResponse(
        jobs_pending=state.jobs_pending, inventory=state.inventory,
        checkin_interval_seconds=ctx.settings.checkin_interval, server_time=ctx.now(),
        config_version=ctx.agent_configs.get(ctx.desired_state(), agent.client, agent.labels, agent.agent_id).version,
        policies_version=await run_in_threadpool(_policies_version, ctx, agent),
    )


def _policies_version(ctx: ApiContext, agent: AgentPrincipal) -> str:
    desired = ctx.desired_state()
    if desired is None:
        return ""
    return ctx.bundles.version(desired, agent.agent_id, agent.client, agent.labels, ctx.runs.of(agent.agent_id))


@router.get("/policies", response_model=SignedPolicyBundle)
def policies(agent: AgentDep, ctx: ContextDep) -> SignedPolicyBundle:
    """The policies that apply to this agent with every script they run, signed with the job-signing key.
    Fetched when the check-in's ``policies_version`` differs from the one the agent holds."""
    bundle = ctx.bundles.bundle(ctx.desired_state(), agent.agent_id, agent.client, agent.labels,
                                ctx.runs.of(agent.agent_id))
    payload = canonical_json(bundle.model_dump(mode="json", by_alias=True))
    if len(payload) > MAX_BUNDLE_BYTES:
        raise ApiError(500, "bundle_too_large", f"this agent's policy bundle is {len(payload)} bytes, over the "
                                                f"{MAX_BUNDLE_BYTES}-byte limit; target fewer policies or smaller "
                                                "scripts at this device")
    key_id, signature = ctx.signer.sign_payload(POLICY_BUNDLE_SIGNATURE_CONTEXT, payload)
    return SignedPolicyBundle(key_id=key_id, payload=payload, signature=signature)


@router.post("/policy-results", response_model=PolicyResultAck)
def policy_results(body: PolicyResultReport, agent: AgentDep, ctx: ContextDep) -> PolicyResultAck:
    """Store policy results (idempotent per result id). Only policies assigned to this agent under the
    applied revision are accepted: a report naming another policy is refused whole (403) and audited."""
    refused = ""
    if body.agent_id is not None and body.agent_id != agent.agent_id:
        refused = f"this credential belongs to agent {agent.agent_id}, not {body.agent_id}"
    desired = ctx.desired_state()
    assigned = set(ctx.bundles.assigned(desired, agent.agent_id, agent.client, agent.labels)) if desired else set()
    strangers = sorted({result.policy_id for result in body.results} - assigned)
    if strangers and not refused:
        refused = (f"policies {', '.join(strangers[:10])} are not assigned to agent {agent.agent_id} in the "
                   "applied revision; fetch the policy bundle again and drop results of other policies")
    if refused:
        record_audit(ctx.store, actor=agent.agent_id, actor_kind="agent", action="policy-results.refused",
                     target=body.agent_id or agent.agent_id, client=agent.client,
                     detail={"reason": refused[:500]}, now=ctx.now())
        raise ApiError(403, "forbidden", refused)
    stored = store_policy_results(ctx.store, agent.agent_id, agent.client, body.results, ctx.now())
    changed = apply_policy_alerts(ctx.store, agent.agent_id, agent.client, body.results, ctx.now())
    ctx.alerts_changed(changed)  # committed: the ticket worker looks at them now, as for monitor alerts
    if any(result.run_request for result in body.results):
        ctx.runs.forget()
    return PolicyResultAck(stored=stored)


@router.get("/config", response_model=AgentConfig)
def config(agent: AgentDep, ctx: ContextDep) -> AgentConfig:
    """What the agent should do beyond jobs (network discovery ranges, inventory cadence, monitors,
    which depend on its device groups). Fetched when the check-in's ``config_version`` differs from
    the one the agent holds."""
    return ctx.agent_configs.get(ctx.desired_state(), agent.client, agent.labels, agent.agent_id)


@router.post("/inventory", response_model=InventoryAck)
def inventory(body: InventoryReport, agent: AgentDep, ctx: ContextDep, request: Request) -> InventoryAck:
    """Store the sections the report carries; licence keys are sealed before they are stored."""
    if body.agent_id is not None and body.agent_id != agent.agent_id:
        # A copied data dir or a confused agent: nothing is stored, and the attempt is on record.
        record_audit(ctx.store, actor=agent.agent_id, actor_kind="agent", action="inventory.refused",
                     target=body.agent_id, client=agent.client,
                     detail={"reason": "the report names another agent"}, now=ctx.now())
        raise ApiError(403, "forbidden", f"this credential belongs to agent {agent.agent_id}, "
                                         f"not {body.agent_id}; an agent reports only its own inventory")
    sealer = None
    if body.licenses and any(item.key for item in body.licenses):
        public = sealing_keys(request, ctx).ensure().sealing_key
        sealer = functools.partial(seal, public_key=public)
    if ctx.ingester is not None:
        accepted = ctx.ingester.ingest(InventoryUpload(agent, body, sealer), ctx.now())
    else:
        accepted = ingest_inventory(ctx.store, agent, body, ctx.now(), seal=sealer)
    ctx.principals.forget([agent.agent_id])
    if body.facts is not None or body.managed is not None:
        ctx.notifier.agent_changed(agent.agent_id)
    return InventoryAck(accepted=accepted)


@router.post("/alerts", response_model=AlertAck)
async def agent_alerts(body: AlertReport, agent: AgentDep, ctx: ContextDep) -> AlertAck:
    """Raise or clear the agent's monitor alerts, keyed ``agent:{agent_id}:{monitor}:{subject}``.

    Idempotent per item (one open alert per key), so an agent that did not hear the answer
    simply sends the same items again. Items apply in the order observed.

    Async: the report waits for its batch's commit without holding a request thread (in a storm
    those threads were all taken by reports waiting, and every other request queued for one).
    """
    if body.agent_id is not None and body.agent_id != agent.agent_id:
        await run_in_threadpool(record_audit, ctx.store, actor=agent.agent_id, actor_kind="agent",
                                action="alerts.refused", target=body.agent_id, client=agent.client,
                                detail={"reason": "the report names another agent"}, now=ctx.now())
        raise ApiError(403, "forbidden", f"this credential belongs to agent {agent.agent_id}, "
                                         f"not {body.agent_id}; an agent reports only its own alerts")
    now = ctx.now()
    changes = [AlertChange(key=f"agent:{agent.agent_id}:{item.monitor}:{item.subject}", type=f"agent.{item.monitor}",
                           severity=item.severity, state=item.state, message=item.message,
                           detail={"subject": item.subject, "values": dict(item.values),
                                   "observed_at": item.observed_at.isoformat()},
                           # an agent's clock ahead of ours must not date alerts in the future
                           observed_at=min(item.observed_at, now))
               for item in sorted(body.alerts, key=lambda alert: alert.observed_at)]
    if ctx.alert_recorder is not None:
        # with other agents' reports in one transaction; the recorder tells the ticket worker
        await asyncio.wrap_future(ctx.alert_recorder.enqueue(ReportedAlerts(agent.client, agent.agent_id, changes,
                                                                            now)))
    else:
        changed = await run_in_threadpool(record_alert_changes, ctx.store, client=agent.client,
                                          agent_id=agent.agent_id, changes=changes, now=now)
        ctx.alerts_changed(changed)  # committed: the ticket worker looks at them now, not at its next tick
    return AlertAck(stored=[item.id for item in body.alerts])


@router.post("/jobs/lease", response_model=LeaseResponse)
async def lease(body: LeaseRequest, agent: AgentDep, ctx: ContextDep) -> LeaseResponse:
    """The agent's open jobs, signed; waits up to ``wait_seconds`` for new ones (long-poll)."""
    lease_ttl = ctx.settings.lease_ttl
    rows, seq_high = await run_in_threadpool(
        lease_jobs, ctx.store, agent.agent_id, ctx.now(), lease_ttl, body.max_jobs)
    if not rows and body.wait_seconds > 0:
        await ctx.notifier.wait_for_jobs(agent.agent_id, body.wait_seconds)
        rows, seq_high = await run_in_threadpool(
            lease_jobs, ctx.store, agent.agent_id, ctx.now(), lease_ttl, body.max_jobs)
    return LeaseResponse(jobs=[ctx.signer.sign(job_spec(row)) for row in rows], seq_high=seq_high)


@router.post("/jobs/{job_id}/events", response_model=JobEventAck)
def job_event(job_id: str, body: JobEvent, agent: AgentDep, ctx: ContextDep) -> JobEventAck:
    state = record_job_event(ctx.store, agent.agent_id, job_id, body, ctx.now(),
                             lease_ttl=timedelta(seconds=ctx.settings.lease_ttl))
    ctx.principals.forget([agent.agent_id])
    if body.status != "running":
        ctx.notifier.agent_changed(agent.agent_id)
    return JobEventAck(job_id=job_id, state=state)
