"""The applied revision's packages, deployments, policies, scripts (with their categories) and
policy templates, projected into SQL for the API and status.

Written only by :func:`controller.store.revisions.record_applied` (through
:func:`replace_projection`, inside its transaction) and never edited: desired state
changes through git. A client-scoped reader sees MSP-wide rows and its own client's.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Table, delete, insert, or_, select
from sqlalchemy.orm import Session

from controller.desired import DesiredState
from controller.errors import NotFound
from controller.store.engine import Store
from controller.store.tables import (
    automation_policies,
    automation_scripts,
    package_deployments,
    policy_templates,
    script_categories,
    software_packages,
)
from schemas.policies import Policy
from schemas.scripts import Script
from schemas.templates import PolicyTemplate


class PackageRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    """``name`` (MSP-wide) or ``client.name``."""
    client: str | None
    name: str
    version: str
    spec: dict[str, Any]
    source: str
    """``path:line:col`` in the repository."""
    revision: str


class DeploymentRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    client: str | None
    name: str
    package: str
    ensure: str
    spec: dict[str, Any]
    source: str
    revision: str


class ScriptCategoryRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    scripts: int
    """How many of the visible Scripts have the category."""
    os: list[str]
    """Every OS one of them runs on."""


class PolicyTemplateRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    client: str | None
    name: str
    category: str
    os: list[str]
    description: str
    spec: dict[str, Any]
    source: str
    revision: str


def replace_projection(session: Session, sha: str, desired: DesiredState) -> None:
    for table in (software_packages, package_deployments, automation_policies, automation_scripts,
                  script_categories, policy_templates):
        session.execute(delete(table))
    policies = [{
        "id": loaded.ref, "client": loaded.scope, "name": loaded.name, "mode": loaded.resource.spec.mode,
        "every": loaded.resource.spec.schedule.interval or "cron", "template": loaded.resource.spec.template,
        "spec": loaded.resource.spec.model_dump(mode="json", by_alias=True, exclude_none=True),
        "source": str(loaded.location), "revision": sha,
    } for loaded in desired.of_kind(Policy).values()]
    scripts = [{
        "id": loaded.ref, "client": loaded.scope, "name": loaded.name, "shell": loaded.resource.spec.shell,
        "category": loaded.resource.spec.category, "os": list(loaded.resource.spec.os),
        "description": loaded.resource.spec.description, "file": loaded.resource.spec.file,
        "spec": loaded.resource.spec.model_dump(mode="json", by_alias=True, exclude_none=True),
        "source": str(loaded.location), "revision": sha,
    } for loaded in desired.of_kind(Script).values()]
    templates = [{
        "id": loaded.ref, "client": loaded.scope, "name": loaded.name, "category": loaded.resource.spec.category,
        "os": list(loaded.resource.spec.os), "description": loaded.resource.spec.description,
        "spec": loaded.resource.spec.model_dump(mode="json", by_alias=True, exclude_none=True),
        "source": str(loaded.location), "revision": sha,
    } for loaded in desired.of_kind(PolicyTemplate).values()]
    for table, rows in ((automation_policies, policies), (automation_scripts, scripts),
                        (script_categories, _categories(scripts, sha)), (policy_templates, templates)):
        if rows:
            session.execute(insert(table), rows)
    packages = [{
        "id": loaded.ref, "client": loaded.scope, "name": loaded.name,
        "version": loaded.resource.spec.version,
        "spec": loaded.resource.spec.model_dump(mode="json", by_alias=True, exclude_none=True),
        "source": str(loaded.location), "revision": sha,
    } for loaded in desired.packages.values()]
    deployments = [{
        "id": loaded.ref, "client": loaded.scope, "name": loaded.name,
        "package": loaded.resource.spec.package,
        "ensure": loaded.resource.spec.ensure,
        "spec": loaded.resource.spec.model_dump(mode="json", by_alias=True, exclude_none=True),
        "source": str(loaded.location), "revision": sha,
    } for loaded in desired.deployments.values()]
    if packages:
        session.execute(insert(software_packages), packages)
    if deployments:
        session.execute(insert(package_deployments), deployments)


def _categories(scripts: list[dict[str, Any]], sha: str) -> list[dict[str, Any]]:
    """One row per (scope, category) of the Scripts: how many, on which OSes."""
    found: dict[tuple[str | None, str], dict[str, Any]] = {}
    for script in scripts:
        client, name = script["client"], script["category"]
        row = found.setdefault((client, name), {
            "id": name if client is None else f"{client}.{name}", "client": client, "name": name, "scripts": 0,
            "os": [], "revision": sha})
        row["scripts"] += 1
        row["os"] = sorted(set(row["os"]) | set(script["os"]))
    return list(found.values())


def _visible(table: Table, client: str | None) -> Any:
    return select(*table.c).order_by(table.c.id) if client is None else (
        select(*table.c).where(or_(table.c.client.is_(None), table.c.client == client)).order_by(table.c.id))


def list_packages(store: Store, client: str | None) -> list[PackageRecord]:
    with store.read() as session:
        return [PackageRecord.model_validate(dict(row))
                for row in session.execute(_visible(software_packages, client)).mappings()]


def list_deployments(store: Store, client: str | None) -> list[DeploymentRecord]:
    with store.read() as session:
        return [DeploymentRecord.model_validate(dict(row))
                for row in session.execute(_visible(package_deployments, client)).mappings()]


def get_deployment(store: Store, deployment: str, client: str | None) -> DeploymentRecord:
    """One deployment of the applied revision; NotFound when absent or another client's."""
    statement = _visible(package_deployments, client).where(package_deployments.c.id == deployment)
    with store.read() as session:
        row = session.execute(statement).mappings().one_or_none()
    if row is None:
        raise NotFound(f"deployment {deployment} is not in the applied revision",
                       hint="deployment ids are 'name' (MSP-wide) or 'client.name'")
    return DeploymentRecord.model_validate(dict(row))



def list_script_categories(store: Store, client: str | None) -> list[ScriptCategoryRecord]:
    """The categories of the Scripts ``client`` sees (MSP-wide and its own; None: every client's),
    by name, each counted once over those scopes."""
    merged: dict[str, tuple[int, set[str]]] = {}
    with store.read() as session:
        for row in session.execute(_visible(script_categories, client)):
            scripts, systems = merged.get(row.name, (0, set()))
            merged[row.name] = (scripts + row.scripts, systems | set(row.os))
    return [ScriptCategoryRecord(name=name, scripts=scripts, os=sorted(systems))
            for name, (scripts, systems) in sorted(merged.items())]


def list_policy_templates(store: Store, client: str | None, *, os: str | None = None,
                          category: str | None = None) -> list[PolicyTemplateRecord]:
    """The PolicyTemplates ``client`` sees (MSP-wide and its own), optionally for one OS or category."""
    statement = _visible(policy_templates, client)
    if category is not None:
        statement = statement.where(policy_templates.c.category == category)
    with store.read() as session:
        found = [PolicyTemplateRecord.model_validate(dict(row)) for row in session.execute(statement).mappings()]
    return [template for template in found if os is None or os in template.os]
