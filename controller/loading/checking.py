"""Checks across resources: placement, scope, duplicate names, references, shadowing.

Scope comes from the folder: ``clients/<name>/...`` belongs to client ``name``;
everything else is MSP-wide. A client's resources may refer to their own client's
resources and to MSP-wide ones, never to another client's, and never act on
another client's devices.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from ruamel.yaml.comments import CommentedMap

from controller.desired import DesiredState, Loaded, ResourceKey, Scope, SourceLocation
from controller.loading.parsing import Document
from controller.loading.problems import Problem, problem
from controller.loading.validating import node_position
from schemas.clients import Client
from schemas.deployments import Deployment
from schemas.fleet import Fleet, FleetSpec
from schemas.groups import DeviceGroup
from schemas.packages import Package
from schemas.resources import Resource

ROOT_FLEET_FILES = ("fleet.yaml", "fleet.yml")


@dataclass(frozen=True)
class Candidate:
    """A resource that validated on its own, with where it came from."""

    resource: Resource
    document: Document
    scope: Scope

    @property
    def location(self) -> SourceLocation:
        return SourceLocation(self.document.path, self.document.line, self.document.column)

    def at(self, *loc: str | int, at_key: bool = False) -> tuple[int, int]:
        return node_position(self.document.tree, loc, at_key=at_key)

    def problem(self, message: str, *loc: str | int) -> Problem:
        line, column = self.at(*loc) if loc else (self.document.line, self.document.column)
        return problem(self.document.path, line, column, message)


def scope_of(path: str) -> tuple[Scope, str | None]:
    """(scope, problem message) for a file path relative to the fleet root."""
    parts = PurePosixPath(path).parts
    if parts[0] != "clients":
        return None, None
    if len(parts) < 3:
        return None, (f"{path} is directly in clients/; put it in a client's folder "
                      f"(clients/<client>/{parts[-1]})")
    return parts[1], None


def _where(scope: Scope) -> str:
    return f"clients/{scope}/ or MSP-wide" if scope is not None else "MSP-wide resources"


def check(candidates: Sequence[Candidate], folder_problems: Iterable[Problem],
          revision: str) -> tuple[DesiredState | None, list[Problem]]:
    problems = list(folder_problems)
    problems += _placement(candidates)
    table, duplicates = _index(candidates)
    problems += duplicates
    desired = DesiredState(revision=revision, fleet=_fleet_spec(candidates), resources=table)
    problems += _references(candidates, desired)
    problems += _client_folders(candidates, desired)
    problems += _scope_reach(candidates)
    problems += _shadowing(candidates, desired)
    return (desired if not problems else None), problems


def _fleet_spec(candidates: Sequence[Candidate]) -> FleetSpec:
    for candidate in candidates:
        if isinstance(candidate.resource, Fleet):
            return candidate.resource.spec
    return FleetSpec()


def _placement(candidates: Sequence[Candidate]) -> list[Problem]:
    found: list[Problem] = []
    fleets = [c for c in candidates if isinstance(c.resource, Fleet)]
    for candidate in fleets:
        if candidate.document.path not in ROOT_FLEET_FILES:
            found.append(candidate.problem(
                "a Fleet belongs in fleet.yaml at the root of the fleet; move it there", "kind"))
    for candidate in fleets[1:]:
        first = fleets[0]
        found.append(candidate.problem(f"a second Fleet; there is one, at {first.location}", "kind"))
    for candidate in candidates:
        if isinstance(candidate.resource, Client):
            if candidate.scope is None:
                found.append(candidate.problem(
                    f"a Client belongs in clients/{candidate.resource.name}/client.yaml", "kind"))
            elif candidate.scope != candidate.resource.name:
                found.append(candidate.problem(
                    f"this Client is named '{candidate.resource.name}' but lives in "
                    f"clients/{candidate.scope}/; the name must match the folder", "metadata", "name"))
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


def _references(candidates: Sequence[Candidate], desired: DesiredState) -> list[Problem]:
    found: list[Problem] = []
    for candidate in candidates:
        resource = candidate.resource
        if not isinstance(resource, Deployment):
            continue
        spec = resource.spec
        if desired.resolve(Package, candidate.scope, spec.package) is None:
            found.append(candidate.problem(
                f"no Package '{spec.package}' in {_where(candidate.scope)}", "spec", "package"))
        groups: list[tuple[str, tuple[str | int, ...]]] = []
        if spec.targets.group:
            groups.append((spec.targets.group, ("spec", "targets", "group")))
        groups += [(name, ("spec", "targets", "groups", index))
                   for index, name in enumerate(spec.targets.groups)]
        for name, loc in groups:
            if desired.resolve(DeviceGroup, candidate.scope, name) is None:
                found.append(candidate.problem(f"no DeviceGroup '{name}' in {_where(candidate.scope)}",
                                               *loc))
    return found


def _client_folders(candidates: Sequence[Candidate], desired: DesiredState) -> list[Problem]:
    found: list[Problem] = []
    reported: set[str] = set()
    known = {name for scope, name in desired.clients if scope == name}
    for candidate in candidates:
        scope = candidate.scope
        if scope is None or scope in known or scope in reported:
            continue
        reported.add(scope)
        found.append(problem(candidate.document.path, 1, 1,
                             f"clients/{scope}/ has no Client resource; add clients/{scope}/client.yaml "
                             f"(kind: Client, metadata.name: {scope})"))
    return found


def _scope_reach(candidates: Sequence[Candidate]) -> list[Problem]:
    found: list[Problem] = []
    for candidate in candidates:
        resource = candidate.resource
        if candidate.scope is None or not isinstance(resource, DeviceGroup):
            continue
        selector = resource.spec.selector
        if selector is None:
            continue
        pinned = selector.pinned_values("client")
        if pinned is not None and pinned != {candidate.scope}:
            others = ", ".join(sorted(pinned - {candidate.scope})) or "no client"
            loc: tuple[str | int, ...] = ("spec", "selector")
            tree = candidate.document.tree
            spec = tree.get("spec")
            selector_tree = spec.get("selector") if isinstance(spec, CommentedMap) else None
            if isinstance(selector_tree, CommentedMap) and "client" in selector_tree.get("matchLabels", {}):
                loc = ("spec", "selector", "matchLabels", "client")
            found.append(candidate.problem(
                f"a resource under clients/{candidate.scope}/ cannot act on another client's devices "
                f"(this selector pins client to {others})", *loc))
    return found


def _shadowing(candidates: Sequence[Candidate], desired: DesiredState) -> list[Problem]:
    found: list[Problem] = []
    msp_packages = {name: loaded for (scope, name), loaded in desired.packages.items() if scope is None}
    for candidate in candidates:
        if candidate.scope is None or not isinstance(candidate.resource, Package):
            continue
        other = msp_packages.get(candidate.resource.name)
        if other is not None:
            found.append(candidate.problem(
                f"Package '{candidate.resource.name}' is also defined MSP-wide at {other.location}; "
                "a device could not tell them apart: rename this one", "metadata", "name"))
    return found
