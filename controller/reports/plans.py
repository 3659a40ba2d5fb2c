"""A plan as people (text, markdown) and programs (json) read it.

Grouped by client, then by (action, package, version, deployment), with device
counts and the device names behind them, so a reviewer sees the blast radius
of a change at a glance. Deterministic: the same plan renders the same bytes.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Literal

from controller.planning.plans import Plan

PlanFormat = Literal["text", "markdown", "json"]
MAX_NAMES = 20


@dataclass(frozen=True)
class _Group:
    client: str
    action: str
    package: str
    version: str
    previous: str | None
    deployment: str
    devices: tuple[str, ...]


def _groups(plan: Plan, hostnames: dict[str, str]) -> list[_Group]:
    buckets: dict[tuple[str, str, str, str, str | None, str], list[str]] = defaultdict(list)
    for job in plan.jobs:
        key = (job.client, job.action, job.package, job.version, job.previous_version, job.deployment)
        buckets[key].append(hostnames.get(job.agent_id, job.agent_id))
    return [
        _Group(client, action, package, version, previous, deployment, tuple(sorted(devices)))
        for (client, action, package, version, previous, deployment), devices in sorted(
            buckets.items(), key=lambda item: tuple(str(part) for part in item[0]))
    ]


def _names(devices: tuple[str, ...]) -> str:
    shown = ", ".join(devices[:MAX_NAMES])
    return shown + (f", … {len(devices) - MAX_NAMES} more" if len(devices) > MAX_NAMES else "")


def _what(group: _Group) -> str:
    if group.action == "upgrade":
        return f"upgrade {group.package} {group.previous} → {group.version}"
    return f"{group.action} {group.package} {group.version}"


def _untargeted(plan: Plan) -> list[str]:
    targeted = {outcome.deployment for outcome in plan.outcomes}
    return [ref for ref in plan.deployments if ref not in targeted]


HELD_STATES = {"waiting": "in a later rollout wave", "scheduled": "waiting for its maintenance window",
               "halted": "the rollout is halted"}


@dataclass(frozen=True)
class _Held:
    deployment: str
    state: str
    action: str
    devices: tuple[str, ...]


def _held(plan: Plan, hostnames: dict[str, str]) -> list[_Held]:
    """Devices that need an action this plan does not issue yet: later waves, windows, halts."""
    buckets: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for outcome in plan.outcomes:
        if outcome.state in HELD_STATES and outcome.action is not None:
            buckets[(outcome.deployment, outcome.state, outcome.action)].append(
                hostnames.get(outcome.agent_id, outcome.agent_id))
    return [_Held(deployment, state, action, tuple(sorted(devices)))
            for (deployment, state, action), devices in sorted(buckets.items())]


def _held_lines(held: list[_Held], bullet: str) -> list[str]:
    return [f"{bullet}`{item.deployment}`: {item.action} on {len(item.devices)} more "
            f"device{'s' if len(item.devices) != 1 else ''} ({HELD_STATES[item.state]}): {_names(item.devices)}"
            for item in held]


def _counts(plan: Plan) -> dict[str, int]:
    counts = {"install": 0, "upgrade": 0, "uninstall": 0}
    for job in plan.jobs:
        counts[job.action] += 1
    return counts


def render_plan(plan: Plan, fmt: PlanFormat, *, hostnames: dict[str, str], devices: int) -> str:
    groups = _groups(plan, hostnames)
    if fmt == "json":
        return json.dumps(_as_json(plan, groups, devices, _held(plan, hostnames)), indent=2,
                          sort_keys=True) + "\n"
    counts = _counts(plan)
    summary = (f"{len(plan.jobs)} job{'s' if len(plan.jobs) != 1 else ''} "
               f"({counts['install']} install, {counts['upgrade']} upgrade, "
               f"{counts['uninstall']} uninstall), {len(plan.cancellations)} cancelled")
    lines: list[str] = []
    if fmt == "markdown":
        lines += [f"## Plan for `{plan.revision[:12]}`", "",
                  f"Against {devices} enrolled device{'s' if devices != 1 else ''}: {summary}.", ""]
        current = None
        for group in groups:
            if group.client != current:
                current = group.client
                lines += [f"### Client `{current}`", "", "| Action | Devices | Deployment | Device names |",
                          "| --- | ---: | --- | --- |"]
            lines.append(f"| {_what(group)} | {len(group.devices)} | `{group.deployment}` | "
                         f"{_names(group.devices)} |")
        if groups:
            lines.append("")
        for cancel in plan.cancellations:
            host = hostnames.get(cancel.agent_id, cancel.agent_id)
            lines.append(f"- cancel job `{cancel.job_id}` on {host}: {cancel.reason}")
        untargeted = _untargeted(plan)
        if untargeted:
            lines += ["", "Deployments that target no enrolled device: "
                      + ", ".join(f"`{ref}`" for ref in untargeted)]
        held = _held(plan, hostnames)
        if held:
            lines += ["", "Not issued yet:", *_held_lines(held, "- ")]
        if plan.is_empty and not held:
            lines += ["", "Nothing to do: every targeted device is already as this revision wants it."]
        return "\n".join(lines).rstrip() + "\n"

    lines.append(f"Plan for revision {plan.revision[:12]} against {devices} enrolled "
                 f"device{'s' if devices != 1 else ''}:")
    current = None
    for group in groups:
        if group.client != current:
            current = group.client
            lines += ["", f"client {current}"]
        count = len(group.devices)
        lines.append(f"  {_what(group)} on {count} device{'s' if count != 1 else ''}"
                     f" ({group.deployment}): {_names(group.devices)}")
    for cancel in plan.cancellations:
        lines.append(f"  cancel {cancel.job_id} on {hostnames.get(cancel.agent_id, cancel.agent_id)}: "
                     f"{cancel.reason}")
    untargeted = _untargeted(plan)
    if untargeted:
        lines += ["", "Deployments that target no enrolled device: " + ", ".join(untargeted)]
    held = _held(plan, hostnames)
    if held:
        lines += ["", "Not issued yet:", *_held_lines(held, "  ")]
    lines += ["", f"Summary: {summary}."]
    if plan.is_empty and not held:
        lines.append("Nothing to do: every targeted device is already as this revision wants it.")
    return "\n".join(lines) + "\n"


def plan_json(plan: Plan, *, hostnames: dict[str, str], devices: int) -> dict[str, Any]:
    return _as_json(plan, _groups(plan, hostnames), devices, _held(plan, hostnames))


def _as_json(plan: Plan, groups: list[_Group], devices: int, held: list[_Held]) -> dict[str, Any]:
    clients: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for group in groups:
        clients[group.client].append({
            "action": group.action, "package": group.package, "version": group.version,
            "previous_version": group.previous, "deployment": group.deployment,
            "device_count": len(group.devices), "devices": list(group.devices),
        })
    return {
        "revision": plan.revision,
        "devices": devices,
        "counts": _counts(plan),
        "clients": dict(sorted(clients.items())),
        "jobs": [
            {"agent_id": j.agent_id, "client": j.client, "deployment": j.deployment, "action": j.action,
             "package": j.package, "version": j.version, "previous_version": j.previous_version}
            for j in plan.jobs
        ],
        "cancellations": [
            {"job_id": c.job_id, "agent_id": c.agent_id, "reason": c.reason} for c in plan.cancellations
        ],
        "untargeted_deployments": _untargeted(plan),
        "held": [{"deployment": item.deployment, "state": item.state, "action": item.action,
                  "device_count": len(item.devices), "devices": list(item.devices)}
                 for item in held],
    }
