"""Policy automation for operators: compliance roll-ups, a policy's run history, run now, the
policy template library.

(The script library, ``GET /api/scripts/library``, is read with the other resource listings in
``write_routes``.)

Scoped like every operator route: a client-scoped token sees its client only (MSP-wide resources
included where they apply to it); asking for another client is 403. Policies themselves are
written through git (``write_routes``); running one now is an operator action and is audited.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from controller.api.auth import ContextDep, OperatorDep, require_role
from controller.api.operator_routes import scope
from controller.policies.compliance import Compliance, ComplianceFilter, ComplianceStatus, compliance
from controller.store import record_audit
from controller.store.policies import PolicyRun, policy_history, request_runs
from controller.store.projection import PolicyTemplateRecord, list_policy_templates
from schemas.packages import OsName

router = APIRouter(prefix="/api", tags=["policies"])


@router.get("/compliance", response_model=Compliance)
def compliance_route(
    principal: OperatorDep, ctx: ContextDep,
    client: str | None = None, group: str | None = None, policy: str | None = None,
    device: Annotated[str | None, Query(description="An agent id or a hostname.")] = None,
    status: ComplianceStatus | None = None,
    device_limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> Compliance:
    """Counts compliant / non_compliant / error / not_applicable / unknown per policy, client, device group
    and device. A target without a result for the policy's current version is unknown."""
    filters = ComplianceFilter(client=scope(principal.client, client), group=group, policy=policy, device=device,
                               status=status)
    return compliance(ctx.store, filters, device_limit=device_limit)


class PolicyTemplateList(BaseModel):
    items: list[PolicyTemplateRecord]


@router.get("/policy-templates", response_model=PolicyTemplateList)
def policy_templates(principal: OperatorDep, ctx: ContextDep,
                     client: Annotated[str | None, Query(max_length=63)] = None, os: OsName | None = None,
                     category: Annotated[str | None, Query(max_length=63)] = None) -> PolicyTemplateList:
    """The applied revision's PolicyTemplates (MSP-wide and, for a client, its own), by id, with their
    parameters and checks; filtered by OS and category."""
    return PolicyTemplateList(items=list_policy_templates(ctx.store, scope(principal.client, client), os=os,
                                                          category=category))


class PolicyHistory(BaseModel):
    items: list[PolicyRun]
    next_before: int | None = Field(description="Pass as ``before`` for the next (older) page; None at the end.")


@router.get("/policies/{policy_id}/history", response_model=PolicyHistory)
def history(policy_id: str, principal: OperatorDep, ctx: ContextDep, client: str | None = None,
            agent: str | None = None, before: int | None = None,
            limit: Annotated[int, Query(ge=1, le=500)] = 50) -> PolicyHistory:
    """Runs of one policy on its devices, newest first, with every check's status and evidence."""
    items = policy_history(ctx.store, policy_id, scope(principal.client, client), agent_id=agent, before=before,
                           limit=limit)
    return PolicyHistory(items=items, next_before=items[-1].id if len(items) == limit else None)


class ExecuteRequest(BaseModel):
    agents: list[Annotated[str, Field(max_length=64)]] | None = Field(
        default=None, max_length=10_000, description="Agent ids; every device the policy targets when omitted.")


class ExecuteAccepted(BaseModel):
    request_id: str
    agents: list[str]


@router.post("/policies/{policy_id}/execute", response_model=ExecuteAccepted, status_code=202)
def execute(policy_id: str, principal: OperatorDep, ctx: ContextDep,
            body: ExecuteRequest | None = None) -> ExecuteAccepted:
    """Run the policy now on its targets (or the given ones); agents pick it up at their next check-in."""
    require_role(principal, "operator")
    wanted = body.agents if body is not None else None
    request_id, asked = request_runs(ctx.store, policy_id, principal.client, wanted, actor=principal.name,
                                     now=ctx.now())
    ctx.runs.forget()
    record_audit(ctx.store, actor=principal.name, actor_kind="api-token", action="policy.execute", target=policy_id,
                 client=principal.client, detail={"request_id": request_id, "agents": len(asked),
                                                  "named": wanted is not None}, now=ctx.now())
    return ExecuteAccepted(request_id=request_id, agents=asked)

