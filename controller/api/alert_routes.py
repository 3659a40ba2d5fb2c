"""Alerts under /api/alerts: what agents and the controller raised (licences, warranties), open
and cleared, scoped by the token's client. Turning alerts into tickets is rule-driven and comes
with the alert-to-ticket work; these calls read.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from controller.api.auth import ContextDep, OperatorDep
from controller.api.operator_routes import scope
from controller.store import AlertRow, get_alert, list_alerts

router = APIRouter(prefix="/api/alerts", tags=["alerts"])


class AlertList(BaseModel):
    items: list[AlertRow]
    next_before_id: int | None = Field(description="Pass as before_id for the next (older) page; null at the end.")


@router.get("", response_model=AlertList)
def alerts(principal: OperatorDep, ctx: ContextDep,
           client: Annotated[str | None, Query(max_length=63)] = None,
           agent_id: Annotated[str | None, Query(max_length=64)] = None,
           state: Literal["open", "cleared"] | None = None,
           severity: Literal["info", "warning", "critical"] | None = None,
           type: Annotated[str | None, Query(max_length=100)] = None,
           since: datetime | None = None,
           before_id: Annotated[int | None, Query(ge=1)] = None,
           limit: Annotated[int, Query(ge=1, le=5000)] = 500) -> AlertList:
    """Alerts newest first. ``since`` keeps those raised or updated at or after that time."""
    visible = scope(principal.client, client)
    items = list_alerts(ctx.store, visible, state=state, agent_id=agent_id, type=type, severity=severity,
                        since=since, before_id=before_id, limit=limit)
    return AlertList(items=items, next_before_id=items[-1].id if len(items) == limit else None)


@router.get("/{alert_id:int}", response_model=AlertRow)
def alert(alert_id: int, principal: OperatorDep, ctx: ContextDep) -> AlertRow:
    return get_alert(ctx.store, alert_id, principal.client)
