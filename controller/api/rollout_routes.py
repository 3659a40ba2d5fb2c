"""Fleet-wide rollback of a deployment: halt its rollout and return every touched device.

``POST /api/deployments/{deployment_id}/rollback`` needs the operator role and is audited (and
recorded in the deployment's history). It changes no desired state: it halts the rollout of the
applied revision of the Deployment, and the planner then issues jobs returning each device the
rollout touched to the version it had before. The deployment stays halted until git changes it:
a new revision of the Deployment (or its Package) starts a new rollout.
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from controller.api.auth import ContextDep, OperatorDep, require_role
from controller.api.problems import ApiError
from controller.errors import Conflict
from controller.store import RolloutRecord, get_deployment, request_rollback

router = APIRouter(prefix="/api", tags=["deployments"])


class RollbackRequest(BaseModel):
    reason: str = Field(default="", max_length=500, description="Why; kept in the history and the audit log.")


class RollbackAccepted(BaseModel):
    rollout: RolloutRecord
    status: str
    """Where to follow the rollback: ``/api/deployments/<id>/status``."""


@router.post("/deployments/{deployment_id}/rollback", response_model=RollbackAccepted, status_code=202,
             responses={409: {"description": "Nothing rolled out yet, or already rolled back (`conflict`)."}})
def rollback(deployment_id: str, principal: OperatorDep, ctx: ContextDep,
             body: RollbackRequest | None = None) -> RollbackAccepted:
    """Halt the rollout and return every device it touched to its previous version (operator+, audited)."""
    require_role(principal, "operator")
    record = get_deployment(ctx.store, deployment_id, principal.client)  # 404 for another client's
    try:
        rollout = request_rollback(ctx.store, deployment_id, actor=principal.name, actor_kind="api-token",
                                   client=record.client, reason=body.reason if body else "", now=ctx.now())
    except Conflict as conflict:
        raise ApiError(409, conflict.code, str(conflict)) from None
    ctx.notifier.request_full()
    return RollbackAccepted(rollout=rollout, status=f"/api/deployments/{deployment_id}/status")
