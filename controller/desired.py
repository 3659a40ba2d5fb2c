"""The desired state: one validated revision of the fleet repository, as plain data.

Built by ``controller.loading`` from git objects and handed to the planner. Every
resource keeps its scope (its client, or None for MSP-wide) and where it came
from, so plans and status can point back at the YAML.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from schemas.checks import Check
from schemas.clients import Client
from schemas.deployments import Deployment
from schemas.fleet import FleetSpec
from schemas.groups import DeviceGroup
from schemas.packages import Package
from schemas.policies import Policy
from schemas.resources import Resource
from schemas.rollouts import Window
from schemas.scripts import Script
from schemas.windows import MaintenanceWindow

R = TypeVar("R", bound=Resource)

Scope = str | None
"""A client name, or None for MSP-wide resources."""

ResourceKey = tuple[Scope, str]
"""(scope, metadata.name): unique per kind."""


@dataclass(frozen=True, order=True)
class SourceLocation:
    """1-based line and column, as editors and ``path:line:col`` messages count."""

    path: str
    line: int = 1
    column: int = 1

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Loaded(Generic[R]):
    """A validated resource with its scope and the place it was declared."""

    resource: R
    scope: Scope
    location: SourceLocation

    @property
    def name(self) -> str:
        return self.resource.metadata.name

    @property
    def key(self) -> ResourceKey:
        return (self.scope, self.resource.metadata.name)

    @property
    def ref(self) -> str:
        """The resource's id in the API and status: ``name`` or ``client.name``."""
        return resource_ref(self.scope, self.resource.metadata.name)


def resource_ref(scope: Scope, name: str) -> str:
    """``name`` for MSP-wide resources, ``client.name`` for a client's (names hold no dots)."""
    return name if scope is None else f"{scope}.{name}"


def parse_resource_ref(ref: str) -> ResourceKey:
    scope, dot, name = ref.rpartition(".")
    return (scope if dot else None, name)


@dataclass(frozen=True)
class ScriptFile:
    """The text of a Script's file in this revision, pinned by its SHA-256 for bundling into jobs."""

    path: str
    text: str
    sha256: str
    size: int


@dataclass(frozen=True)
class DesiredState:
    """Everything one revision declares. Immutable; look resources up by kind."""

    revision: str
    fleet: FleetSpec = field(default_factory=FleetSpec)
    resources: Mapping[str, Mapping[ResourceKey, Loaded[Resource]]] = field(default_factory=dict)
    policy_checks: Mapping[ResourceKey, tuple[Check, ...]] = field(default_factory=dict)
    """The checks of every Policy: its inline ones, or its template rendered with its params."""
    script_files: Mapping[str, ScriptFile] = field(default_factory=dict)
    """Every Script's file, by its path relative to the fleet root."""

    def of_kind(self, model: type[R]) -> Mapping[ResourceKey, Loaded[R]]:
        found = self.resources.get(model.kind_name, {})
        return found  # type: ignore[return-value]

    @property
    def clients(self) -> Mapping[ResourceKey, Loaded[Client]]:
        return self.of_kind(Client)

    @property
    def packages(self) -> Mapping[ResourceKey, Loaded[Package]]:
        return self.of_kind(Package)

    @property
    def groups(self) -> Mapping[ResourceKey, Loaded[DeviceGroup]]:
        return self.of_kind(DeviceGroup)

    @property
    def deployments(self) -> Mapping[ResourceKey, Loaded[Deployment]]:
        return self.of_kind(Deployment)

    def checks_of(self, policy: Loaded[Policy]) -> tuple[Check, ...]:
        """What ``policy`` checks, its template expanded (the loader rendered it)."""
        return self.policy_checks.get(policy.key, tuple(policy.resource.spec.checks))

    def script_file(self, script: Loaded[Script]) -> ScriptFile | None:
        """The file ``script`` runs; None only for a DesiredState not built by the loader."""
        return self.script_files.get(script.resource.spec.file)

    def client_names(self) -> list[str]:
        return sorted(name for _scope, name in self.clients)

    def resolve(self, model: type[R], scope: Scope, name: str) -> Loaded[R] | None:
        """A reference from a resource in ``scope``: its own client's first, then MSP-wide."""
        found = self.of_kind(model)
        if scope is not None and (scope, name) in found:
            return found[(scope, name)]
        return found.get((None, name))

    def window(self, window: Window | str | None, scope: Scope) -> Window | None:
        """An inline window as it is; a name resolved like any reference from ``scope`` (the
        validated revision has no dangling names; None if one is missing all the same)."""
        if isinstance(window, str):
            named = self.resolve(MaintenanceWindow, scope, window)
            return named.resource.spec if named is not None else None
        return window

    def all_resources(self) -> Iterator[Loaded[Resource]]:
        for kind in sorted(self.resources):
            for key in sorted(self.resources[kind], key=_sort_key):
                yield self.resources[kind][key]


def _sort_key(key: ResourceKey) -> tuple[str, str]:
    return (key[0] or "", key[1])
