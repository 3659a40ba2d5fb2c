"""The names each kind refers to, and where in the document they are written.

One function per kind that has references; ``checking`` resolves every one like
``DesiredState.resolve`` does (own client's first, then MSP-wide).
"""

from __future__ import annotations

from collections.abc import Callable

from schemas.alerting import AlertTicketRule
from schemas.checks import ScriptCheck
from schemas.clients import Client
from schemas.deployments import Deployment, Targets
from schemas.groups import DeviceGroup
from schemas.packages import Package
from schemas.policies import Policy
from schemas.resources import Resource
from schemas.scripts import Script
from schemas.templates import PolicyTemplate
from schemas.windows import MaintenanceWindow

Reference = tuple[type[Resource], str, tuple[str | int, ...]]


def _targets(targets: Targets) -> list[Reference]:
    found: list[Reference] = []
    if targets.group:
        found.append((DeviceGroup, targets.group, ("spec", "targets", "group")))
    found += [(DeviceGroup, name, ("spec", "targets", "groups", index))
              for index, name in enumerate(targets.groups)]
    return found


def _deployment(resource: Resource) -> list[Reference]:
    assert isinstance(resource, Deployment)
    found: list[Reference] = [(Package, resource.spec.package, ("spec", "package")), *_targets(resource.spec.targets)]
    if isinstance(resource.spec.window, str):
        found.append((MaintenanceWindow, resource.spec.window, ("spec", "window")))
    return found


def _client(resource: Resource) -> list[Reference]:
    assert isinstance(resource, Client)
    window = resource.spec.deployment_window
    return [(MaintenanceWindow, window, ("spec", "deploymentWindow"))] if isinstance(window, str) else []


def _policy(resource: Resource) -> list[Reference]:
    assert isinstance(resource, Policy)
    spec = resource.spec
    found = _targets(spec.targets) if spec.targets is not None else []
    if spec.exclude is not None:
        found += [(DeviceGroup, name, ("spec", "exclude", "groups", index))
                  for index, name in enumerate(spec.exclude.groups)]
    if resource.spec.template is not None:
        found.append((PolicyTemplate, resource.spec.template, ("spec", "template")))
    for index, check in enumerate(resource.spec.checks):
        if isinstance(check, ScriptCheck):
            found.append((Script, check.script, ("spec", "checks", index, "script")))
        if check.remediation is not None:
            found.append((Script, check.remediation.script, ("spec", "checks", index, "remediation", "script")))
    return found


def _alert_rule(resource: Resource) -> list[Reference]:
    assert isinstance(resource, AlertTicketRule)
    return [(DeviceGroup, name, ("spec", "match", "groups", index))
            for index, name in enumerate(resource.spec.match.groups)]


REFERENCES: dict[type[Resource], Callable[[Resource], list[Reference]]] = {
    Client: _client,
    Deployment: _deployment,
    Policy: _policy,
    AlertTicketRule: _alert_rule,
}


def references_of(resource: Resource) -> list[Reference]:
    finder = REFERENCES.get(type(resource))
    return finder(resource) if finder is not None else []
