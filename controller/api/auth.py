"""Bearer authentication for agents (their enrolment credential) and operators (API tokens).

Operator roles are ordered viewer < operator < admin; a token may be scoped to one
client, and every handler passes ``principal.client`` down so the store filters by it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from controller.api.context import ApiContext
from controller.api.problems import ApiError
from controller.store import AgentPrincipal, ApiPrincipal, authenticate_agent, authenticate_api_token

ROLE_RANK = {"viewer": 0, "operator": 1, "admin": 2}


async def context(request: Request) -> ApiContext:
    """The app's context. ``async`` although it awaits nothing: FastAPI runs a plain ``def``
    dependency on a worker thread, so every request would wait for one of ``--api-threads`` (busy
    with database work in a storm) just to read an attribute."""
    ctx: ApiContext = request.app.state.context
    return ctx


ContextDep = Annotated[ApiContext, Depends(context)]


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "unauthorized", "send 'Authorization: Bearer <token>'",
                       headers={"WWW-Authenticate": "Bearer"})
    return token.strip()


async def agent_principal(request: Request, ctx: ContextDep) -> AgentPrincipal:
    """From memory when this credential was checked moments ago, else from the database."""
    credential = _bearer(request)
    principal = ctx.principals.get(credential)
    if principal is not None:
        return principal
    principal = await run_in_threadpool(authenticate_agent, ctx.store, credential, ctx.now(),
                                        stamp=ctx.seen.stamp if ctx.seen is not None else None)
    if principal is not None:
        ctx.principals.put(credential, principal)
    if principal is None:
        raise ApiError(401, "agent_unauthorized",
                       "agent credential unknown or revoked; enrol the agent again",
                       headers={"WWW-Authenticate": "Bearer"})
    return principal


AgentDep = Annotated[AgentPrincipal, Depends(agent_principal)]


def operator_principal(request: Request, ctx: ContextDep) -> ApiPrincipal:
    principal = authenticate_api_token(ctx.store, _bearer(request), ctx.now())
    if principal is None:
        raise ApiError(401, "unauthorized", "API token unknown, expired or revoked",
                       headers={"WWW-Authenticate": "Bearer"})
    return principal


OperatorDep = Annotated[ApiPrincipal, Depends(operator_principal)]


def require_role(principal: ApiPrincipal, role: str) -> None:
    if ROLE_RANK[principal.role] < ROLE_RANK[role]:
        raise ApiError(403, "forbidden", f"this needs the {role} role; the token has {principal.role}")
