"""What a revision changes in the desired state, resource by resource, deletions included.

Pure: two DesiredStates in, a sorted tuple of :class:`ResourceChange` out. A reviewer
sees every added, changed and removed resource of every kind (scripts, policies, alert
rules, licences as well as packages and deployments), and which fields changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from controller.desired import DesiredState, Loaded, ResourceKey
from schemas.resources import Resource

ChangeKind = Literal["added", "changed", "removed"]


@dataclass(frozen=True, order=True)
class ResourceChange:
    kind: str
    ref: str
    change: ChangeKind
    location: str
    """Where the resource is (or was, for a removal): path:line:col."""
    fields: tuple[str, ...] = ()
    """For a change: the dotted paths (two levels deep) whose values differ."""


def _dump(loaded: Loaded[Resource]) -> dict[str, Any]:
    data: dict[str, Any] = loaded.resource.model_dump(mode="json", by_alias=True, exclude_defaults=False)
    return data


def changed_fields(old: Any, new: Any, prefix: str = "", depth: int = 0) -> list[str]:
    """Dotted paths under which ``old`` and ``new`` differ, at most three levels deep."""
    if old == new:
        return []
    if isinstance(old, dict) and isinstance(new, dict) and depth < 2:
        found: list[str] = []
        for key in sorted(set(old) | set(new)):
            path = f"{prefix}.{key}" if prefix else str(key)
            found += changed_fields(old.get(key), new.get(key), path, depth + 1)
        return found
    return [prefix or "(whole resource)"]


def resource_changes(old: DesiredState | None, new: DesiredState) -> tuple[ResourceChange, ...]:
    found: list[ResourceChange] = []
    kinds = set(new.resources) | (set(old.resources) if old else set())
    for kind in kinds:
        before: dict[ResourceKey, Loaded[Resource]] = dict(old.resources.get(kind, {})) if old else {}
        after: dict[ResourceKey, Loaded[Resource]] = dict(new.resources.get(kind, {}))
        for key in set(before) | set(after):
            was, now = before.get(key), after.get(key)
            if was is None and now is not None:
                found.append(ResourceChange(kind, now.ref, "added", str(now.location)))
            elif now is None and was is not None:
                found.append(ResourceChange(kind, was.ref, "removed", str(was.location)))
            elif was is not None and now is not None:
                fields = changed_fields(_dump(was), _dump(now))
                if fields:
                    found.append(ResourceChange(kind, now.ref, "changed", str(now.location), tuple(fields)))
    return tuple(sorted(found, key=lambda c: (c.kind, c.ref)))


def touched_clients(changes: tuple[ResourceChange, ...]) -> frozenset[str] | None:
    """The clients whose resources changed, or None when anything MSP-wide changed."""
    clients: set[str] = set()
    for change in changes:
        scope, dot, _name = change.ref.rpartition(".")
        if not dot:
            return None
        clients.add(scope)
    return frozenset(clients)
