"""Checks across resources: placement, duplicate names, references, tenancy, shadowing, policy conflicts.

Scope comes from the folder: ``clients/<name>/...`` belongs to client ``name``;
everything else is MSP-wide. A client's resources may refer to their own client's
resources and to MSP-wide ones, never to another client's, and never act on another
client's devices. References resolve exactly as :meth:`DesiredState.resolve` does,
because that is what the planner will do with them.

Documents that failed on their own still count as what they meant to declare
(:class:`Unseen`), so one broken Package yields one problem, not one more per
Deployment that uses it.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import PurePosixPath

from controller.desired import DesiredState, Loaded, ResourceKey, Scope, SourceLocation
from controller.loading.conflicting import conflict_problems
from controller.loading.expanding import expand_policies
from controller.loading.inheriting import inherit_policies
from controller.loading.locating import node_position
from controller.loading.parsing import Document
from controller.loading.problems import Problem, problem
from controller.loading.references import references_of
from schemas.alerting import AlertTicketRule
from schemas.clients import Client
from schemas.fleet import Fleet, FleetSpec
from schemas.groups import DeviceGroup
from schemas.packages import Package
from schemas.resources import Resource

FLEET_FILE = "fleet.yaml"


@dataclass(frozen=True)
class Candidate:
    """A resource that validated on its own, with where it came from."""

    resource: Resource
    document: Document
    scope: Scope

    @property
    def location(self) -> SourceLocation:
        return SourceLocation(self.document.path, self.document.line, self.document.column)

    def problem(self, message: str, *loc: str | int, at_key: bool = False) -> Problem:
        """A problem at the node ``loc`` names (its key when ``at_key``), or at the document."""
        line, column = (node_position(self.document.tree, loc, at_key=at_key) if loc
                        else (self.document.line, self.document.column))
        return problem(self.document.path, line, column, message)


@dataclass
class Unseen:
    """What the documents that did not validate may declare."""

    claims: set[tuple[str, Scope, str]] = field(default_factory=set)
    """(kind, scope, name) of invalid documents that say what they declare."""
    claimed_kinds: set[tuple[str, Scope]] = field(default_factory=set)
    opaque: set[Scope] = field(default_factory=set)
    """Scopes with a file or document whose resources cannot be told at all."""

    def claim(self, kind: str, scope: Scope, name: str) -> None:
        self.claims.add((kind, scope, name))
        self.claimed_kinds.add((kind, scope))

    def may_declare(self, kind: str, scope: Scope, name: str | None = None) -> bool:
        """Whether an unvalidated document may declare this resource (any name when None)."""
        if scope in self.opaque:
            return True
        if name is None:
            return (kind, scope) in self.claimed_kinds
        return (kind, scope, name) in self.claims


def scope_of(path: str) -> tuple[Scope, str | None]:
    """(scope, problem message) for a file path relative to the fleet root."""
    parts = PurePosixPath(path).parts
    if parts[0] != "clients":
        return None, None
    if len(parts) < 3:
        return None, (f"{path} is directly in clients/; put it in a client's folder "
                      f"(clients/<client>/{parts[-1]})")
    return parts[1], None


def check(candidates: Sequence[Candidate], unseen: Unseen,
          revision: str) -> tuple[DesiredState, list[Problem]]:
    """The desired state the candidates make, and every problem between them."""
    problems = _placement(candidates)
    table, duplicates = _index(candidates)
    problems += duplicates
    desired = DesiredState(revision=revision, fleet=_fleet_spec(candidates), resources=table)
    problems += _references(candidates, desired, unseen)
    policy_checks, expansion = expand_policies(
        candidates, desired, lambda model, name, candidate: _missing(model, name, candidate, desired, unseen))
    problems += expansion
    policy_checks, inheritance = inherit_policies(
        candidates, desired, policy_checks,
        lambda model, name, candidate: _missing(model, name, candidate, desired, unseen))
    problems += inheritance
    desired = replace(desired, policy_checks=policy_checks)
    problems += conflict_problems(candidates, desired)
    problems += _client_folders(candidates, desired, unseen)
    problems += _scope_reach(candidates)
    problems += _shadowing(candidates, desired)
    return desired, problems


def _fleet_spec(candidates: Sequence[Candidate]) -> FleetSpec:
    for candidate in candidates:
        if isinstance(candidate.resource, Fleet):
            return candidate.resource.spec
    return FleetSpec()


def _placement(candidates: Sequence[Candidate]) -> list[Problem]:
    found: list[Problem] = []
    fleets = [c for c in candidates if isinstance(c.resource, Fleet)]
    for candidate in fleets[1:]:
        found.append(candidate.problem(f"a second Fleet; there is one already, at {fleets[0].location}",
                                       "kind"))
    for candidate in candidates:
        resource, scope = candidate.resource, candidate.scope
        kind = resource.kind_name
        if isinstance(resource, Fleet):
            if candidate.document.path != FLEET_FILE:
                found.append(candidate.problem(
                    f"a Fleet belongs in {FLEET_FILE} at the root of the fleet; move it there", "kind"))
        elif resource.placement == "msp" and scope is not None:
            found.append(candidate.problem(
                f"a {kind} is MSP-wide; move it out of clients/{scope}/", "kind"))
        elif resource.placement == "client" and scope is None:
            home = f"clients/{resource.name}/client.yaml" if isinstance(resource, Client) else (
                "clients/<client>/")
            found.append(candidate.problem(f"a {kind} belongs in {home}", "kind"))
        elif isinstance(resource, Client) and scope != resource.name:
            found.append(candidate.problem(
                f"this Client is named '{resource.name}' but lives in clients/{scope}/; the name "
                "must match the folder", "metadata", "name"))
    return found


def _index(candidates: Sequence[Candidate]) -> tuple[dict[str, dict[ResourceKey, Loaded[Resource]]],
                                                     list[Problem]]:
    table: dict[str, dict[ResourceKey, Loaded[Resource]]] = {}
    found: list[Problem] = []
    for candidate in candidates:
        kind = candidate.resource.kind_name
        key = (candidate.scope, candidate.resource.name)
        same = table.setdefault(kind, {})
        if key in same:
            where = "MSP-wide" if candidate.scope is None else f"in clients/{candidate.scope}/"
            found.append(candidate.problem(
                f"duplicate {kind} '{candidate.resource.name}' {where}; the first is at "
                f"{same[key].location}", "metadata", "name"))
            continue
        same[key] = Loaded(candidate.resource, candidate.scope, candidate.location)
    return table, found


def _where(scope: Scope) -> str:
    return f"clients/{scope}/ or MSP-wide" if scope is not None else "MSP-wide resources"


def _missing(model: type[Resource], name: str, candidate: Candidate, desired: DesiredState,
             unseen: Unseen) -> str | None:
    """Why ``name`` does not resolve from ``candidate``, or None when it does (or might)."""
    scope, kind = candidate.scope, model.kind_name
    if desired.resolve(model, scope, name) is not None:
        return None
    if unseen.may_declare(kind, None, name) or (scope is not None and
                                                unseen.may_declare(kind, scope, name)):
        return None  # declared by a document that has its own problems
    visible = sorted({n for s, n in desired.of_kind(model) if s in (None, scope)})
    close = difflib.get_close_matches(name, visible, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"no {kind} '{name}' in {_where(scope)}{hint}"


def _references(candidates: Sequence[Candidate], desired: DesiredState, unseen: Unseen) -> list[Problem]:
    found: list[Problem] = []
    for candidate in candidates:
        resource = candidate.resource
        for model, name, loc in references_of(resource):
            message = _missing(model, name, candidate, desired, unseen)
            if message is not None:
                found.append(candidate.problem(message, *loc))
        if isinstance(resource, AlertTicketRule) and resource.spec.routing.connector is not None:
            connector = resource.spec.routing.connector
            known = sorted(desired.fleet.tickets.connectors)
            if connector not in known:
                close = difflib.get_close_matches(connector, known, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                found.append(candidate.problem(
                    f"no ticket connector '{connector}' in fleet.yaml spec.tickets.connectors{hint}",
                    "spec", "routing", "connector"))
        if isinstance(resource, AlertTicketRule) and desired.fleet.tickets.email is None:
            # An error, not a warning: a notify that silently mails no one is what escalation must not do.
            for index, step in enumerate(resource.spec.escalation):
                if step.notify:
                    found.append(candidate.problem(
                        "escalation notify needs an SMTP server: add spec.tickets.email (host, from) to "
                        "fleet.yaml, or remove notify", "spec", "escalation", index, "notify"))
    return found


def _client_folders(candidates: Sequence[Candidate], desired: DesiredState,
                    unseen: Unseen) -> list[Problem]:
    found: list[Problem] = []
    settled: set[Scope] = {scope for scope, name in desired.clients if scope == name}
    # A folder whose Client is present but misnamed or broken already has a problem saying so.
    settled |= {c.scope for c in candidates if isinstance(c.resource, Client)}
    for candidate in candidates:  # in path order, so the first file of the folder reports
        scope = candidate.scope
        if scope is None or scope in settled or unseen.may_declare(Client.kind_name, scope):
            continue
        settled.add(scope)
        found.append(problem(candidate.document.path, 1, 1,
                             f"clients/{scope}/ has no Client resource; add clients/{scope}/client.yaml "
                             f"(kind: Client, metadata.name: {scope})"))
    return found


def _scope_reach(candidates: Sequence[Candidate]) -> list[Problem]:
    found: list[Problem] = []
    for candidate in candidates:
        resource, scope = candidate.resource, candidate.scope
        if scope is None or not isinstance(resource, DeviceGroup) or resource.spec.selector is None:
            continue
        selector = resource.spec.selector
        if selector.pinned_values("client") is None:
            continue  # the planner confines an unpinned group to the client's own devices
        # Point at each pin naming another client; the intersection alone would hide which one.
        message = (f"a resource under clients/{scope}/ cannot act on another client's devices "
                   f"(this selector pins client to {{}}); remove the pin or use '{scope}'")
        pinned = selector.match_labels.get("client")
        if pinned is not None and pinned != scope:
            found.append(candidate.problem(message.format(pinned),
                                           "spec", "selector", "matchLabels", "client"))
        for index, requirement in enumerate(selector.match_expressions):
            if requirement.key != "client" or requirement.operator != "In":
                continue
            for position, value in enumerate(requirement.values):
                if value != scope:
                    found.append(candidate.problem(message.format(value), "spec", "selector",
                                                   "matchExpressions", index, "values", position))
    return found


def _shadowing(candidates: Sequence[Candidate], desired: DesiredState) -> list[Problem]:
    found: list[Problem] = []
    for candidate in candidates:
        if candidate.scope is None or not isinstance(candidate.resource, Package):
            continue
        other = desired.packages.get((None, candidate.resource.name))
        if other is not None:
            found.append(candidate.problem(
                f"Package '{candidate.resource.name}' is also defined MSP-wide at {other.location}; "
                "a reference to it would be ambiguous: rename this one", "metadata", "name"))
    return found
