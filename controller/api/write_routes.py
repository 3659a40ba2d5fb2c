"""Desired-state endpoints: read resources of the applied revision, and write them — as git commits.

Reads (``GET``) come from the applied revision, scoped like every operator endpoint: a
client-scoped token sees MSP-wide resources and its own client's. Writes need the
operator or admin role and never touch SQL: each becomes a commit
(:mod:`controller.writing`), on a new proposal branch by default or on the applied branch
when the Fleet says ``apiWrites: direct``, and answers ``202`` with the branch, the
commit and the link to its plan. A write that would leave the fleet invalid is refused
with ``422 revision_invalid`` and every ``path:line:col: message``; nothing is committed.
A client-scoped token writes only its own client's resources (under ``clients/<client>/``).
"""

from __future__ import annotations

import logging
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from controller.api.auth import ContextDep, OperatorDep, require_role
from controller.api.context import ApiContext
from controller.api.operator_routes import scope
from controller.api.problems import ApiError, error_response
from controller.desired import DesiredState, parse_resource_ref
from controller.errors import Conflict, FleetwardError, NotFound, RevisionInvalid, TemporaryError
from controller.store import ApiPrincipal, get_agent, record_audit
from controller.store.projection import ScriptCategoryRecord, list_script_categories
from controller.writing import (
    Assign,
    Author,
    Create,
    DesiredStateWriter,
    Mode,
    Operation,
    OutsideScope,
    PushRefused,
    Replace,
    Target,
    Upsert,
    WriteResult,
)
from controller.writing.bodies import (
    LicenseCreate,
    PackageCreate,
    PolicyAssign,
    PolicyCreate,
    PolicyReplace,
    ScriptCreate,
    TicketRuleCreate,
    TicketRuleReplace,
    spec_of,
)
from controller.writing.placing import script_file_problem, script_path
from schemas.alerting import AlertTicketRule
from schemas.packages import OsName, Package
from schemas.policies import Policy
from schemas.resources import DnsLabel, Resource, is_dns_label
from schemas.rollouts import Window
from schemas.scripts import Script

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api", tags=["desired state"])

WRITE_ACTION = "desired-state.write"
REFUSED_ACTION = "desired-state.write-refused"
ResourceId = Annotated[str, Path(max_length=127, description="'name' (MSP-wide) or 'client.name'.")]
ClientFilter = Annotated[str | None, Query(max_length=63)]


class WriteAccepted(BaseModel):
    """Where a write landed. ``branch``/``commit`` are null when it changed nothing."""

    branch: str | None
    commit: str | None
    mode: Mode
    plan: str | None
    """``/api/plans/<branch>`` for a proposal; null for a direct commit (it is applied, not planned)."""
    files: list[str]
    created: bool


class ResourceItem(BaseModel):
    id: str
    client: str | None
    name: str
    spec: dict[str, Any]
    source: str
    """``path:line:col`` in the repository."""


class ResourceList(BaseModel):
    revision: str
    items: list[ResourceItem]


WRITE_RESPONSES: dict[int | str, dict[str, Any]] = {
    422: {"description": "The write would make the fleet invalid (`revision_invalid`, with `problems`), or the "
                         "body is invalid (`invalid_request`)."},
    403: {"description": "Needs the operator role, or reaches outside the token's client."},
    409: {"description": "Already exists (`already_exists`), or the file cannot be edited in place."},
    502: {"description": "The repository refused the push (`push_refused`)."},
    503: {"description": "The repository could not be reached, or kept moving (retry)."},
}


# -- reading ------------------------------------------------------------------------------------

def _applied(ctx: ApiContext) -> DesiredState:
    desired = ctx.desired_state()
    if desired is None:
        raise ApiError(503, "no_applied_revision", "no revision has been applied yet; try again shortly",
                       headers={"Retry-After": "5"})
    return desired


def _listing(ctx: ApiContext, principal: ApiPrincipal, model: type[Resource], client: str | None) -> ResourceList:
    desired = _applied(ctx)
    visible = scope(principal.client, client)
    items = [
        ResourceItem(id=loaded.ref, client=loaded.scope, name=loaded.name, source=str(loaded.location),
                     spec=loaded.resource.model_dump(mode="json", by_alias=True, exclude_none=True)["spec"])
        for loaded in sorted(desired.of_kind(model).values(), key=lambda item: (item.scope or "", item.name))
        if visible is None or loaded.scope in (None, visible)
    ]
    return ResourceList(revision=desired.revision, items=items)


@router.get("/software/packages", response_model=ResourceList)
def packages(principal: OperatorDep, ctx: ContextDep, client: ClientFilter = None) -> ResourceList:
    """Packages of the applied revision (MSP-wide and, for a client, its own)."""
    return _listing(ctx, principal, Package, client)


@router.get("/policies", response_model=ResourceList)
def policies(principal: OperatorDep, ctx: ContextDep, client: ClientFilter = None) -> ResourceList:
    return _listing(ctx, principal, Policy, client)


@router.get("/alerts/ticket-rules", response_model=ResourceList)
def ticket_rules(principal: OperatorDep, ctx: ContextDep, client: ClientFilter = None) -> ResourceList:
    return _listing(ctx, principal, AlertTicketRule, client)


class ScriptLibrary(ResourceList):
    categories: list[ScriptCategoryRecord]
    """Every category of the Scripts the caller sees (``script_categories``), whatever the filters."""


@router.get("/scripts/library", response_model=ScriptLibrary)
def script_library(principal: OperatorDep, ctx: ContextDep, client: ClientFilter = None,
                   os: OsName | None = None, category: Annotated[str | None, Query(max_length=63)] = None,
                   text: Annotated[str | None, Query(max_length=200,
                                                     description="In the name or description, any case.")] = None,
                   ) -> ScriptLibrary:
    """The script library: every Script resource (its text stays in the repository), filtered by OS,
    category and text, and the categories to filter by."""
    listing = _listing(ctx, principal, Script, client)
    needle = text.lower() if text else None
    items = [item for item in listing.items
             if (os is None or os in item.spec.get("os", ()))
             and (category is None or item.spec.get("category", "general") == category)
             and (needle is None or needle in item.name.lower() or needle in item.spec.get("description", "").lower())]
    categories = list_script_categories(ctx.store, scope(principal.client, client))
    return ScriptLibrary(revision=listing.revision, items=items, categories=categories)


# -- writing ------------------------------------------------------------------------------------

def _target(kind: str, principal: ApiPrincipal, client: str | None, name: str) -> Target:
    require_role(principal, "operator")
    return Target(kind, client, name)


def _existing(kind: str, principal: ApiPrincipal, resource_id: str) -> Target:
    """The target an id names; another client's resources are simply not found."""
    require_role(principal, "operator")
    client, name = parse_resource_ref(resource_id)
    valid = is_dns_label(name) and (client is None or is_dns_label(client))
    if not valid or (principal.client is not None and client not in (None, principal.client)):
        raise ApiError(404, "not_found", f"no {kind} {resource_id!r}; ids are 'name' or 'client.name'")
    return Target(kind, client, name)


def _write(ctx: ApiContext, principal: ApiPrincipal, operation: Operation, response: Response) -> Any:
    if ctx.mirror is None:
        raise ApiError(503, "no_repository", "this controller serves no fleet repository to write to")
    applied = ctx.desired_state()
    mode: Mode = applied.fleet.api_writes if applied is not None else "proposal"
    writer = DesiredStateWriter(ctx.mirror, ctx.settings.branch, ctx.settings.path)
    target = operation.target
    try:
        result = writer.write(operation, mode=mode, author=Author(principal.name, principal.token_id),
                              when=ctx.now(), applied=applied, confined_to=principal.client)
    except OutsideScope as refused:
        _audit(ctx, principal, REFUSED_ACTION, target, {"reason": refused.message})
        raise ApiError(403, refused.code, str(refused)) from None
    except RevisionInvalid as invalid:
        count = len(invalid.problems)
        return JSONResponse({
            "code": invalid.code,
            "message": f"the write would make the fleet invalid ({count} problem{'s' if count != 1 else ''}); "
                       "nothing was committed",
            "problems": [str(problem) for problem in invalid.problems],
        }, status_code=422)
    except PushRefused as refused:
        raise ApiError(502, refused.code, str(refused)) from None
    except TemporaryError:
        raise  # 503 with Retry-After, from the shared handler
    except NotFound as missing:
        raise ApiError(404, missing.code, str(missing)) from None
    except FleetwardError as error:  # Conflict and its kind (already_exists, not_editable): 409
        return error_response(409 if isinstance(error, Conflict) else 400, error.code, str(error))
    if result.changed:
        _audit(ctx, principal, WRITE_ACTION, target, _detail(operation, result))
        ctx.request_fetch()
    else:
        response.status_code = 200
    return _accepted(result)


def _accepted(result: WriteResult) -> WriteAccepted:
    plan = f"/api/plans/{result.branch}" if result.mode == "proposal" and result.branch else None
    return WriteAccepted(branch=result.branch, commit=result.commit, mode=result.mode, plan=plan,
                         files=result.files, created=result.created)


def _detail(operation: Operation, result: WriteResult) -> dict[str, Any]:
    return {"operation": operation.verb, "kind": operation.target.kind, "branch": result.branch,
            "commit": result.commit, "mode": result.mode, "files": result.files, "created": result.created}


def _audit(ctx: ApiContext, principal: ApiPrincipal, action: str, target: Target, detail: dict[str, Any]) -> None:
    try:
        record_audit(ctx.store, actor=principal.name, actor_kind="api-token", action=action,
                     target=f"{target.kind}/{target.ref}", client=target.scope,
                     detail={**detail, "token": principal.token_id}, now=ctx.now())
    except FleetwardError as error:
        # The commit is pushed and names the token as its author; failing the request now would
        # only make the caller write it twice.
        log.warning("could not record the audit row for %s %s (%s): %s", action, target.title,
                    detail.get("commit"), error)


@router.post("/software/packages", response_model=WriteAccepted, status_code=202, responses=WRITE_RESPONSES)
def create_package(body: PackageCreate, principal: OperatorDep, ctx: ContextDep, response: Response) -> Any:
    """Declare a new package (409 if one of that name exists in that scope)."""
    target = _target("Package", principal, body.client, body.name)
    return _write(ctx, principal, Create(target, spec_of(body)), response)


class AdHocDeploy(BaseModel):
    """Deploy one package to one device now: a one-device Deployment committed to git like any write."""

    package: DnsLabel
    ensure: Literal["present", "absent"] = "present"
    window: Window | None = None


ADHOC_PREFIX = "adhoc-"


@router.post("/agents/{agent_id}/deploy", response_model=WriteAccepted, status_code=202, responses=WRITE_RESPONSES)
def deploy_to_agent(agent_id: Annotated[str, Path(max_length=64)], body: AdHocDeploy, principal: OperatorDep,
                    ctx: ContextDep, response: Response) -> Any:
    """Ad-hoc deployment to one agent (operator+, audited): writes ``clients/<client>/`` Deployment
    ``adhoc-<package>-<agent>`` targeting only that device, one wave, through the usual git write."""
    require_role(principal, "operator")
    agent = get_agent(ctx.store, agent_id, principal.client)  # 404 for another client's device
    name = f"{ADHOC_PREFIX}{body.package[:40].rstrip('-')}-{agent.agent_id.removeprefix('a_')[:12]}"
    spec: dict[str, Any] = {"package": body.package, "ensure": body.ensure,
                            "targets": {"devices": [agent.agent_id]},
                            "rollout": {"waves": [{"percent": 100}]}}
    if body.window is not None:
        spec["window"] = body.window.model_dump(mode="json", by_alias=True, exclude_none=True)
    return _write(ctx, principal, Upsert(Target("Deployment", agent.client, name), spec), response)


@router.post("/policies", response_model=WriteAccepted, status_code=202, responses=WRITE_RESPONSES)
def create_policy(body: PolicyCreate, principal: OperatorDep, ctx: ContextDep, response: Response) -> Any:
    target = _target("Policy", principal, body.client, body.name)
    return _write(ctx, principal, Create(target, spec_of(body)), response)


@router.put("/policies/{policy_id}", response_model=WriteAccepted, status_code=202, responses=WRITE_RESPONSES)
def replace_policy(policy_id: ResourceId, body: PolicyReplace, principal: OperatorDep, ctx: ContextDep,
                   response: Response) -> Any:
    """Replace a policy's spec, in place in the file that declares it."""
    return _write(ctx, principal, Replace(_existing("Policy", principal, policy_id), spec_of(body)), response)


@router.post("/policies/{policy_id}/assign", response_model=WriteAccepted, status_code=202,
             responses=WRITE_RESPONSES)
def assign_policy(policy_id: ResourceId, body: PolicyAssign, principal: OperatorDep, ctx: ContextDep,
                  response: Response) -> Any:
    """Add groups and devices to a policy's targets."""
    operation = Assign(_existing("Policy", principal, policy_id), tuple(body.groups), tuple(body.devices))
    return _write(ctx, principal, operation, response)


@router.post("/alerts/ticket-rules", response_model=WriteAccepted, status_code=202, responses=WRITE_RESPONSES)
def create_ticket_rule(body: TicketRuleCreate, principal: OperatorDep, ctx: ContextDep, response: Response) -> Any:
    target = _target("AlertTicketRule", principal, body.client, body.name)
    return _write(ctx, principal, Create(target, spec_of(body)), response)


@router.put("/alerts/ticket-rules/{rule_id}", response_model=WriteAccepted, status_code=202,
            responses=WRITE_RESPONSES)
def replace_ticket_rule(rule_id: ResourceId, body: TicketRuleReplace, principal: OperatorDep, ctx: ContextDep,
                        response: Response) -> Any:
    target = _existing("AlertTicketRule", principal, rule_id)
    return _write(ctx, principal, Replace(target, spec_of(body)), response)


@router.post("/assets/licenses", response_model=WriteAccepted, status_code=202, responses=WRITE_RESPONSES)
def upsert_license(body: LicenseCreate, principal: OperatorDep, ctx: ContextDep, response: Response) -> Any:
    """Create a licence, or replace the spec of the one with that name (the key arrives sealed)."""
    target = _target("License", principal, body.client, body.name)
    return _write(ctx, principal, Upsert(target, spec_of(body)), response)


@router.post("/scripts", response_model=WriteAccepted, status_code=202, responses=WRITE_RESPONSES)
def create_script(body: ScriptCreate, principal: OperatorDep, ctx: ContextDep, response: Response) -> Any:
    """Add a script to the library: its Script resource and its text, in one commit."""
    target = _target("Script", principal, body.client, body.name)
    file = body.file or script_path(body.client, body.name, body.shell)
    problem = script_file_problem(file, body.client)
    if problem is not None:
        raise ApiError(422, "invalid_request", problem)
    spec = {**spec_of(body), "file": file}
    return _write(ctx, principal, Create(target, spec, {file: body.content.encode("utf-8")}), response)

