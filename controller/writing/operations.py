"""The desired-state writes the API offers, each as "what files change" given a base commit.

An operation is plain data (kind, scope, name, the new spec); :meth:`Operation.edits`
turns it into ``{path: bytes}`` against one base commit. Because it is re-run from
scratch on every attempt, a write that lost a push race is rebuilt on the new tip — the
same edit, re-applied where the resource now is — rather than replayed as stale bytes.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any, ClassVar, Protocol

from controller.desired import DesiredState, Scope, resource_ref
from controller.errors import Conflict, NotFound
from controller.writing.editing import edit_spec, new_file
from controller.writing.errors import ResourceExists
from controller.writing.locating import Located, hint, locate
from controller.writing.placing import resource_path, schema_ref
from controller.writing.trees import BaseTree
from schemas import API_VERSION


@dataclass(frozen=True)
class Target:
    """The resource a write is about."""

    kind: str
    scope: Scope
    name: str

    @property
    def ref(self) -> str:
        return resource_ref(self.scope, self.name)

    @property
    def title(self) -> str:
        return f"{self.kind} {self.ref}"


@dataclass(frozen=True)
class Edits:
    files: dict[str, bytes]
    """Changed and new files, relative to the fleet root."""
    created: bool = False
    """True when the write declares a new resource."""


class Operation(Protocol):
    @property
    def target(self) -> Target: ...

    @property
    def verb(self) -> str:
        """How the commit message starts: ``Create``, ``Update``, ``Assign``."""
        ...

    def edits(self, base: BaseTree, applied: DesiredState | None) -> Edits:
        """The files to write on top of ``base``. ResourceExists, NotFound, NotEditable,
        RevisionInvalid (the declaring file does not parse) when there are none to write."""
        ...

    def explain_invalid(self, base: BaseTree, applied: DesiredState | None) -> None:
        """Called when the edited tree does not validate: raise a clearer error if there is one."""
        ...


def _document(target: Target, spec: Mapping[str, Any]) -> dict[str, Any]:
    return {"apiVersion": API_VERSION, "kind": target.kind, "metadata": {"name": target.name},
            "spec": dict(spec)}


def _find(base: BaseTree, applied: DesiredState | None, target: Target, *, search: bool) -> Located | None:
    return locate(base, target.kind, target.scope, target.name,
                  hinted=hint(applied, target.kind, target.scope, target.name), search=search)


def _free(base: BaseTree, path: str) -> None:
    if base.exists(path):
        raise Conflict(f"{path} already exists in the repository",
                       hint="choose another name, or add the resource to that file in git")
    for parent in PurePosixPath(path).parents:
        if str(parent) != "." and base.entry(str(parent)) is not None:
            raise Conflict(f"{parent} is a file, so {path} cannot be created",
                           hint="rename that file in git first")


@dataclass(frozen=True)
class Create:
    """A new resource in its own file at the conventional path, plus any files beside it."""

    target: Target
    spec: Mapping[str, Any]
    extra: Mapping[str, bytes] = field(default_factory=dict)
    """Other new files (a script's text), relative to the fleet root."""
    verb: ClassVar[str] = "Create"

    def edits(self, base: BaseTree, applied: DesiredState | None) -> Edits:
        existing = _find(base, applied, self.target, search=False)
        if existing is not None:
            raise ResourceExists(f"{self.target.title} already exists", where=existing.path)
        path = resource_path(self.target.kind, self.target.scope, self.target.name)
        if base.exists(path):
            self.explain_invalid(base, applied)  # the file there may declare it already
        for new_path in (path, *self.extra):
            _free(base, new_path)
        content = new_file(_document(self.target, self.spec), schema_ref(path))
        return Edits({path: content, **self.extra}, created=True)

    def explain_invalid(self, base: BaseTree, applied: DesiredState | None) -> None:
        # Declared since the applied revision (or in a file the hint did not name)?
        existing = _find(base, applied, self.target, search=True)
        if existing is not None:
            raise ResourceExists(f"{self.target.title} already exists", where=existing.path)


def _changed(base: BaseTree, located: Located, target: Target, change: Callable[[Any], Any]) -> Edits:
    content = edit_spec(located.path, located.raw, target.kind, target.name, change, base.sha)
    return Edits({} if content == located.raw else {located.path: content})


def _not_found(target: Target) -> NotFound:
    return NotFound(f"no {target.title} in the repository",
                    hint="list them with GET on the same collection; ids are 'name' or 'client.name'")


@dataclass(frozen=True)
class Replace:
    """The spec of an existing resource becomes ``spec``, changed in place in its file."""

    target: Target
    spec: Mapping[str, Any]
    verb: ClassVar[str] = "Update"

    def edits(self, base: BaseTree, applied: DesiredState | None) -> Edits:
        located = _find(base, applied, self.target, search=True)
        if located is None:
            raise _not_found(self.target)
        return _changed(base, located, self.target, lambda _old: dict(self.spec))

    def explain_invalid(self, base: BaseTree, applied: DesiredState | None) -> None:
        return None


@dataclass(frozen=True)
class Upsert:
    """Replace the spec when the resource exists, create it otherwise (licences)."""

    target: Target
    spec: Mapping[str, Any]
    verb: ClassVar[str] = "Create or update"

    def edits(self, base: BaseTree, applied: DesiredState | None) -> Edits:
        located = _find(base, applied, self.target, search=True)
        if located is None:
            return Create(self.target, self.spec).edits(base, applied)
        return _changed(base, located, self.target, lambda _old: dict(self.spec))

    def explain_invalid(self, base: BaseTree, applied: DesiredState | None) -> None:
        return None


@dataclass(frozen=True)
class Assign:
    """Add groups and devices to the ``targets`` of a resource (a Policy), keeping the rest."""

    target: Target
    groups: tuple[str, ...] = ()
    devices: tuple[str, ...] = ()
    verb: ClassVar[str] = "Assign"

    def edits(self, base: BaseTree, applied: DesiredState | None) -> Edits:
        located = _find(base, applied, self.target, search=True)
        if located is None:
            raise _not_found(self.target)
        return _changed(base, located, self.target, self._assigned)

    def _assigned(self, old: Any) -> Any:
        if not isinstance(old, dict) or not isinstance(old.get("targets", {}), dict):
            return old  # not a valid spec to begin with; validation says why
        spec = copy.deepcopy(old)
        targets = spec.setdefault("targets", {})
        have = {targets.get("group"), *targets.get("groups", [])}
        groups = [name for name in dict.fromkeys(self.groups) if name not in have]
        if groups:
            targets["groups"] = [*targets.get("groups", []), *groups]
        devices = [name for name in dict.fromkeys(self.devices) if name not in targets.get("devices", [])]
        if devices:
            targets["devices"] = [*targets.get("devices", []), *devices]
        return spec

    def explain_invalid(self, base: BaseTree, applied: DesiredState | None) -> None:
        return None
