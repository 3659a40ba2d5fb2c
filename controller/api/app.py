"""Build the FastAPI application from an :class:`ApiContext`."""

from __future__ import annotations

from fastapi import FastAPI

from controller.api import (
    agent_routes,
    alert_routes,
    asset_routes,
    hooks,
    operator_routes,
    plan_routes,
    policy_routes,
    rollout_routes,
    seal_routes,
    ticket_routes,
    warranty_routes,
    write_routes,
)
from controller.api.context import ApiContext
from controller.api.limits import BodySizeLimit
from controller.api.problems import install_error_handlers

DESCRIPTION = """
The Fleetward controller's HTTP API.

* **Agent protocol** (`/api/agent/v1`): enrolment with a client's enrolment token, then check-in,
  inventory, job leasing and job events with the agent's credential.
* **Operator API** (`/api`): bearer API tokens with a role (viewer, operator, admin) and an optional
  client scope. Desired-state writes become git commits (a proposal branch, or the applied branch with
  `apiWrites: direct`).

Errors are JSON `{"code": ..., "message": ...}` with a stable `code`.
"""


def create_app(context: ApiContext) -> FastAPI:
    app = FastAPI(title="Fleetward", version="1", description=DESCRIPTION,
                  docs_url="/docs", redoc_url=None, openapi_url="/openapi.json")
    app.state.context = context
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit)
    app.include_router(agent_routes.router)
    app.include_router(operator_routes.router)
    app.include_router(asset_routes.router)
    app.include_router(alert_routes.router)
    app.include_router(ticket_routes.router)
    app.include_router(plan_routes.router)
    app.include_router(hooks.router)
    app.include_router(seal_routes.router)
    app.include_router(write_routes.router)
    app.include_router(warranty_routes.router)
    app.include_router(policy_routes.router)
    app.include_router(rollout_routes.router)
    return app
