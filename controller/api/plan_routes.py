"""``/api/plans``: the published plan of every proposal head (markdown or JSON).

Plans cover every client a proposal touches, so they are for MSP-wide tokens only; a
client-scoped token gets 403.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel

from controller.api.auth import ContextDep, OperatorDep
from controller.api.problems import ApiError
from controller.store import get_proposal_plan, list_proposal_plans

router = APIRouter(prefix="/api/plans", tags=["plans"])


class PlanSummary(BaseModel):
    branch: str
    head: str
    base: str | None
    valid: bool
    planned_at: datetime


class PlanList(BaseModel):
    items: list[PlanSummary]


class PlanDocument(PlanSummary):
    plan: dict[str, Any]
    markdown: str


def _msp_only(client: str | None) -> None:
    if client is not None:
        raise ApiError(403, "forbidden", "plans span clients; they need a token without a client scope")


@router.get("", response_model=PlanList)
def plans(principal: OperatorDep, ctx: ContextDep) -> PlanList:
    _msp_only(principal.client)
    return PlanList(items=[PlanSummary(branch=row.branch, head=row.head, base=row.base, valid=row.valid,
                                       planned_at=row.planned_at) for row in list_proposal_plans(ctx.store)])


@router.get("/{branch:path}", response_model=PlanDocument,
            responses={200: {"content": {"text/markdown": {}}}})
def plan_of(branch: str, principal: OperatorDep, ctx: ContextDep,
            format: Literal["json", "markdown"] = Query("json")) -> Any:
    """The plan of ``branch`` (a proposal branch, or ``pull/<n>/head`` / ``merge-requests/<n>/head``)."""
    _msp_only(principal.client)
    row = get_proposal_plan(ctx.store, branch)
    if row is None:
        raise ApiError(404, "not_found", f"no plan for {branch!r}: it is not a proposal head, or it has "
                                         "not been planned yet (plans appear within one fetch interval)")
    if format == "markdown":
        return Response(row.markdown, media_type="text/markdown; charset=utf-8",
                        headers={"X-Fleetward-Head": row.head, "X-Fleetward-Valid": str(row.valid).lower()})
    return PlanDocument(branch=row.branch, head=row.head, base=row.base, valid=row.valid,
                        planned_at=row.planned_at, plan=row.data, markdown=row.markdown)
