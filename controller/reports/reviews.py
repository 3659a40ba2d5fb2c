"""A proposal's review as markdown (for the pull request and the status branch) and JSON (the API).

Sections in a fixed order: validity, every resource change, every deletion (spelled out,
with the devices a removed deployment leaves its software on), then device actions per
client with counts and names. Deterministic, so an unchanged proposal renders the same bytes.
"""

from __future__ import annotations

from typing import Any

from controller.planning.reviewing import Review
from controller.reports.plans import MAX_NAMES, plan_json, render_plan


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _names(names: tuple[str, ...]) -> str:
    shown = ", ".join(names[:MAX_NAMES])
    return shown + (f", … {len(names) - MAX_NAMES} more" if len(names) > MAX_NAMES else "")


def review_markdown(review: Review, *, hostnames: dict[str, str], devices: int) -> str:
    lines = [f"## Fleetward plan for `{review.branch}` at `{review.head[:12]}`", ""]
    base = f"applied revision `{review.base[:12]}`" if review.base else "an empty fleet (nothing applied yet)"
    lines += [f"Compared with {base}, against {devices} enrolled device{'s' if devices != 1 else ''}.", ""]
    if review.problems:
        count = len(review.problems)
        lines += [f"### Invalid: {count} problem{'s' if count != 1 else ''}; this cannot be applied", ""]
        lines += [f"- `{problem}`" for problem in review.problems]
        lines.append("")
        return "\n".join(lines)

    lines += [f"### Changes to the desired state ({len(review.changes)})", ""]
    if review.changes:
        lines += ["| Change | Kind | Resource | Where | Fields |", "| --- | --- | --- | --- | --- |"]
        for change in review.changes:
            lines.append(f"| {change.change} | {change.kind} | `{change.ref}` | {_cell(change.location)} | "
                         f"{_cell(', '.join(change.fields))} |")
    else:
        lines.append("None: the proposal declares exactly what is applied.")
    lines.append("")

    removals = [change for change in review.changes if change.change == "removed"]
    lines += [f"### Deletions ({len(removals)})", ""]
    if not removals:
        lines.append("Nothing is removed.")
    orphaned = {item.deployment: item for item in review.orphaned}
    for change in removals:
        item = orphaned.get(change.ref)
        if item is None:
            lines.append(f"- **{change.kind} `{change.ref}` is removed** (was at {change.location}).")
            continue
        total = sum(count for _client, count in item.devices_per_client)
        per_client = ", ".join(f"{client}: {count}" for client, count in item.devices_per_client)
        if total:
            lines.append(f"- **Deployment `{change.ref}` is removed**: {item.package} stays installed on "
                         f"{total} device{'s' if total != 1 else ''} ({per_client}): {_names(item.hostnames)}. "
                         f"Removing a deployment uninstalls nothing; use `ensure: absent` to uninstall.")
        else:
            lines.append(f"- **Deployment `{change.ref}` is removed**; {item.package} is installed on no "
                         "device it targeted.")
    lines.append("")
    lines += ["### Device actions", ""]
    if review.plan is not None:
        device_plan = render_plan(review.plan, "markdown", hostnames=hostnames, devices=devices)
        lines += device_plan.splitlines()[2:]  # drop the plan's own heading
    return "\n".join(lines).rstrip() + "\n"


def review_json(review: Review, *, hostnames: dict[str, str], devices: int) -> dict[str, Any]:
    return {
        "branch": review.branch,
        "head": review.head,
        "base": review.base,
        "valid": review.valid,
        "problems": list(review.problems),
        "changes": [
            {"kind": c.kind, "ref": c.ref, "change": c.change, "location": c.location, "fields": list(c.fields)}
            for c in review.changes
        ],
        "deletions": [
            {"kind": c.kind, "ref": c.ref, "location": c.location}
            for c in review.changes if c.change == "removed"
        ],
        "orphaned": [
            {"deployment": o.deployment, "package": o.package, "devices_per_client": dict(o.devices_per_client),
             "devices": list(o.hostnames)}
            for o in review.orphaned
        ],
        "plan": plan_json(review.plan, hostnames=hostnames, devices=devices) if review.plan else None,
    }
