"""Build desired and observed states in code, for tests of the planner and what uses it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from controller.desired import DesiredState, Loaded, SourceLocation
from controller.observed import ObservedAgent, ObservedState, OpenJob
from schemas.ids import AgentId, JobId
from schemas.kinds import KINDS
from schemas.resources import Resource

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
SHA = "0" * 64


def resource(kind: str, name: str, spec: Mapping[str, Any]) -> Resource:
    return KINDS[kind].model_validate(
        {"apiVersion": "fleetward/v1", "kind": kind, "metadata": {"name": name}, "spec": dict(spec)}
    )


def package(name: str, version: str = "1.0.0", *, os: str = "linux", arch: str | None = None,
            sha: str = SHA) -> Resource:
    installer: dict[str, Any] = {
        "os": os, "type": "archive", "url": f"https://artifacts.example/{name}-{version}.tar.gz",
        "sha256": sha,
    }
    if arch:
        installer["arch"] = arch
    return resource("Package", name, {"version": version, "installers": [installer]})


def group(name: str, match_labels: Mapping[str, str] | None = None, devices: Iterable[str] = ()) -> Resource:
    spec: dict[str, Any] = {}
    if match_labels is not None:
        spec["selector"] = {"matchLabels": dict(match_labels)}
    if devices:
        spec["devices"] = list(devices)
    return resource("DeviceGroup", name, spec)


ALL_AT_ONCE = {"waves": [{"percent": 100}], "failureThreshold": 100}
"""A rollout of one wave that never halts: for tests about deciding, not about rollouts."""


def deployment(name: str, package_name: str, *, group_name: str | None = None,
               devices: Iterable[str] = (), ensure: str = "present", suspend: bool = False,
               rollout: Mapping[str, Any] | None = None, window: Mapping[str, Any] | str | None = None) -> Resource:
    targets: dict[str, Any] = {}
    if group_name:
        targets["group"] = group_name
    if devices:
        targets["devices"] = list(devices)
    spec: dict[str, Any] = {"package": package_name, "ensure": ensure, "targets": targets, "suspend": suspend}
    if rollout is not None:
        spec["rollout"] = dict(rollout)
    if window is not None:
        spec["window"] = window if isinstance(window, str) else dict(window)  # a MaintenanceWindow's name
    return resource("Deployment", name, spec)


def client(name: str, **spec: Any) -> Resource:
    return resource("Client", name, {"displayName": name.upper(), **spec})


def desired(items: Iterable[tuple[str | None, Resource]], revision: str = "a" * 40) -> DesiredState:
    """``items`` are (scope, resource) pairs; scope None is MSP-wide."""
    by_kind: dict[str, dict[tuple[str | None, str], Loaded[Resource]]] = {}
    for index, (scope, res) in enumerate(items):
        folder = f"clients/{scope}/" if scope else ""
        location = SourceLocation(f"{folder}{res.kind.lower()}s.yaml", index + 1, 1)
        by_kind.setdefault(res.kind, {})[(scope, res.metadata.name)] = Loaded(res, scope, location)
    return DesiredState(revision=revision, resources=by_kind)


def agent(agent_id: str, client_name: str = "acme", *, os: str = "linux", arch: str = "x86_64",
          managed: Mapping[str, str] | None = None, labels: Mapping[str, str] | None = None,
          open_jobs: Iterable[OpenJob] = (), failures: Mapping[Any, Any] | None = None,
          hostname: str | None = None) -> ObservedAgent:
    host = hostname or f"host-{agent_id}"
    merged = dict(labels or {})
    merged.update({"os": os, "arch": arch, "hostname": host, "client": client_name})
    return ObservedAgent(
        agent_id=AgentId(agent_id), client=client_name, hostname=host, labels=merged,
        managed=dict(managed or {}), open_jobs=tuple(open_jobs), failures=dict(failures or {}),
    )


def observed(*agents: ObservedAgent) -> ObservedState:
    return ObservedState(agents={a.agent_id: a for a in agents})


def open_job(job_id: str, package_name: str, version: str, *, action: str = "install",
             state: str = "queued", deployment_ref: str = "d") -> OpenJob:
    return OpenJob(job_id=JobId(job_id), action=action, package=package_name,  # type: ignore[arg-type]
                   version=version, deployment=deployment_ref, state=state,  # type: ignore[arg-type]
                   created_at=NOW)
