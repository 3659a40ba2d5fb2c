"""The built-in ticket store over HTTP: service requests, and tickets opened from alerts by hand.

Reads need any role; changes need the operator role and are audited. Scoped like the rest of
the operator API: a client-scoped token sees its client's tickets only. Opening a ticket for an
alert by hand never duplicates an open one: the alert's open ticket (same key) is returned.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from controller.api.auth import ContextDep, OperatorDep, require_role
from controller.api.operator_routes import scope
from controller.api.problems import ApiError
from controller.store import (
    NewServiceRequest,
    ServiceRequestDetail,
    ServiceRequestRow,
    get_alert,
    get_service_request,
    list_service_requests,
    open_service_request,
    record_audit,
    ticket_for_alert,
    update_service_request,
)
from controller.store.ticket_sync import ConnectorHealth, connector_health

router = APIRouter(prefix="/api", tags=["tickets"])

State = Literal["new", "acknowledged", "in_progress", "resolved", "closed"]
Priority = Literal["low", "medium", "high", "critical"]
SEVERITY_PRIORITY: dict[str, Priority] = {"info": "low", "warning": "medium", "critical": "high"}


class ServiceRequestList(BaseModel):
    items: list[ServiceRequestRow]
    next_before_id: int | None = Field(description="Pass as before_id for the next (older) page; null at the end.")


class ServiceRequestPatch(BaseModel):
    state: State | None = None
    priority: Priority | None = None
    assignee: str | None = Field(default=None, max_length=200)
    board: str | None = Field(default=None, max_length=200)
    note: str | None = Field(default=None, max_length=20_000)


class ManualTicket(BaseModel):
    title: str | None = Field(default=None, max_length=250, description="Default: the alert's message.")
    priority: Priority | None = Field(default=None, description="Default: from the alert's severity.")
    note: str | None = Field(default=None, max_length=20_000)


class OpenedTicket(BaseModel):
    ticket: ServiceRequestRow
    opened: bool = Field(description="False when the alert's open ticket was returned instead.")


@router.get("/service-requests", response_model=ServiceRequestList)
def service_requests(principal: OperatorDep, ctx: ContextDep,
                     client: Annotated[str | None, Query(max_length=63)] = None,
                     state: State | None = None, open: bool = False,
                     agent_id: Annotated[str | None, Query(max_length=64)] = None,
                     before_id: Annotated[int | None, Query(ge=1)] = None,
                     limit: Annotated[int, Query(ge=1, le=5000)] = 500) -> ServiceRequestList:
    """Tickets newest first; ``open=true`` keeps new, acknowledged and in-progress ones."""
    visible = scope(principal.client, client)
    items = list_service_requests(ctx.store, visible, state=state, open_only=open, agent_id=agent_id,
                                  before_id=before_id, limit=limit)
    return ServiceRequestList(items=items, next_before_id=items[-1].id if len(items) == limit else None)


@router.get("/service-requests/{ticket_id}", response_model=ServiceRequestDetail)
def service_request(ticket_id: int, principal: OperatorDep, ctx: ContextDep) -> ServiceRequestDetail:
    """One ticket with its notes and the alert that opened it."""
    return get_service_request(ctx.store, ticket_id, principal.client)


@router.patch("/service-requests/{ticket_id}", response_model=ServiceRequestRow)
def change_service_request(ticket_id: int, body: ServiceRequestPatch, principal: OperatorDep,
                           ctx: ContextDep) -> ServiceRequestRow:
    """Move a ticket along its life cycle, re-prioritise, reassign, or add a note (409 for a
    transition the life cycle does not allow)."""
    require_role(principal, "operator")
    ticket = update_service_request(ctx.store, ticket_id, principal.client, actor=principal.name, now=ctx.now(),
                                    state=body.state, priority=body.priority, assignee=body.assignee,
                                    board=body.board, note=body.note)
    record_audit(ctx.store, actor=principal.name, actor_kind="api-token", action="service-request.update",
                 target=str(ticket_id), client=ticket.client,
                 detail=body.model_dump(exclude_none=True, exclude={"note"}), now=ctx.now())
    return ticket


@router.post("/alerts/{alert_id:int}/create-ticket", response_model=OpenedTicket,
             responses={200: {"description": "The alert's open ticket (no duplicate was opened)"}})
def create_ticket(alert_id: int, body: ManualTicket, principal: OperatorDep, ctx: ContextDep,
                  response: Response) -> OpenedTicket:
    """Open a ticket for an alert by hand (201), or return its open ticket (200); audited."""
    require_role(principal, "operator")
    alert = get_alert(ctx.store, alert_id, principal.client)
    device = alert.agent_id or alert.client
    ticket, opened = open_service_request(ctx.store, NewServiceRequest(
        client=alert.client, agent_id=alert.agent_id, source_alert_id=alert.id,
        dedup_key=f"{device}/{alert.type}", title=body.title or alert.message[:250],
        body=body.note or alert.message, priority=body.priority or SEVERITY_PRIORITY.get(alert.severity, "medium"),
        created_by=principal.name), ctx.now())
    record_audit(ctx.store, actor=principal.name, actor_kind="api-token", action="alert.create-ticket",
                 target=str(alert_id), client=alert.client,
                 detail={"service_request_id": ticket.id, "opened": opened}, now=ctx.now())
    response.status_code = 201 if opened else 200
    return OpenedTicket(ticket=ticket, opened=opened)


@router.get("/alerts/{alert_id:int}/ticket", response_model=ServiceRequestRow)
def alert_ticket(alert_id: int, principal: OperatorDep, ctx: ContextDep) -> ServiceRequestRow:
    """The ticket an alert opened or was added to (404 when it has none)."""
    return ticket_for_alert(ctx.store, alert_id, principal.client)


@router.get("/ticket-connectors", response_model=list[ConnectorHealth])
def ticket_connectors(principal: OperatorDep, ctx: ContextDep) -> list[ConnectorHealth]:
    """Per PSA connector (and ``(email)`` for escalation mail): the outbox backlog and how polling goes.
    Connectors serve every client, so this needs a token without a client scope."""
    if principal.client is not None:
        raise ApiError(403, "forbidden", "ticket connectors serve every client; this needs a token without a "
                                         "client scope")
    return connector_health(ctx.store)
