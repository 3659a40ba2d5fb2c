"""Find every sealed value in a desired state (or any pydantic model), and open one when it is used.

A revision is loaded with its secrets still sealed: :func:`find_sealed` returns
:class:`SealedField` handles that carry only the sealed text and where it was written
(``path:line:col``, the resource, the field in YAML spelling). The plaintext exists only
when a caller opens one handle, at the place it is used, as a :class:`Secret`; nothing
here collects opened values. :func:`check_sealed` opens each value once and drops it, to
report every value the controller could not open as a ``path:line:col`` problem before a
revision is applied, and :func:`require_openable` turns those into ``RevisionInvalid``.

Fields are found by type, not by content: a field declared as ``SealedValue`` (also inside
``Optional``, lists, dicts and nested models); a plain string that merely starts with
``sealed:`` is not a secret and is left alone.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, get_args, get_origin

from pydantic import BaseModel, StringConstraints

from controller.desired import DesiredState, SourceLocation
from controller.errors import RevisionInvalid
from controller.loading.problems import Problem
from controller.secrets.errors import SealedValueError
from controller.secrets.opening import SealedSecrets
from controller.secrets.values import Secret
from schemas.secrets import SEALED_PATTERN


@dataclass(frozen=True)
class SealedField:
    """One sealed value in place: what it is sealed to can be asked; its plaintext only by opening it."""

    value: str
    """The sealed text, as committed (not secret)."""
    field: str
    """The field in YAML spelling, such as ``spec.key`` or ``spec.credentials[0]``."""
    resource: str = ""
    """``Kind ref`` (``License acme.office``), or empty for a bare model."""
    location: SourceLocation | None = None

    @property
    def where(self) -> str:
        parts = [str(self.location)] if self.location is not None else []
        parts += [part for part in (self.resource, self.field) if part]
        return " ".join(parts)

    def open(self, secrets: SealedSecrets) -> Secret:
        """The plaintext, for the caller to use at once; errors name this field's place."""
        try:
            return secrets.open(self.value)
        except SealedValueError as error:
            raise error.located(self.where) from None


def find_sealed(target: DesiredState | BaseModel) -> list[SealedField]:
    """Every SealedValue field set in ``target``, in the order of its resources and fields."""
    if isinstance(target, DesiredState):
        return [
            SealedField(value, field, f"{loaded.resource.kind_name} {loaded.ref}", loaded.location)
            for loaded in target.all_resources()
            for field, value in _walk(loaded.resource, "")
        ]
    return [SealedField(value, field) for field, value in _walk(target, "")]


def check_sealed(state: DesiredState, secrets: SealedSecrets) -> list[Problem]:
    """A problem for every sealed value in ``state`` that this controller cannot open, sorted by place."""
    problems: list[Problem] = []
    for sealed in find_sealed(state):
        try:
            secrets.open(sealed.value)
        except SealedValueError as error:
            where = sealed.location or SourceLocation("fleet.yaml")
            label = " ".join(part for part in (sealed.resource, sealed.field) if part)
            problems.append(Problem(where, f"{label}: {error.message}; {error.hint}"))
    return sorted(problems)


def require_openable(state: DesiredState, secrets: SealedSecrets) -> DesiredState:
    """``state`` when every sealed value in it opens; else RevisionInvalid listing each one that does not.

    For the reconciler and the proposal planner: ``require_openable(load_revision(...), secrets)``
    rejects a revision carrying a value sealed for another controller before anything is applied.
    """
    problems = check_sealed(state, secrets)
    if problems:
        raise RevisionInvalid(state.revision, problems)
    return state


def _walk(model: BaseModel, prefix: str) -> Iterator[tuple[str, str]]:
    for name, alias, sealed in _fields(type(model)):
        value = getattr(model, name)
        if value is not None:
            yield from _values(value, f"{prefix}{alias}", sealed)


def _values(value: Any, path: str, sealed: bool) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        if sealed:
            yield path, value
    elif isinstance(value, BaseModel):
        yield from _walk(value, f"{path}.")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _values(item, f"{path}[{key}]", sealed)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _values(item, f"{path}[{index}]", sealed)


@functools.cache
def _fields(model: type[BaseModel]) -> tuple[tuple[str, str, bool], ...]:
    """(attribute, YAML name, holds sealed values) for each field of ``model``; computed once per class."""
    return tuple(
        (name, info.alias or name, any(map(_is_sealed, info.metadata)) or _mentions_sealed(info.annotation))
        for name, info in model.model_fields.items()
    )


def _mentions_sealed(annotation: Any) -> bool:
    if get_origin(annotation) is Annotated:
        inner, *metadata = get_args(annotation)
        return any(map(_is_sealed, metadata)) or _mentions_sealed(inner)
    return any(_mentions_sealed(arg) for arg in get_args(annotation))


def _is_sealed(metadata: object) -> bool:
    return isinstance(metadata, StringConstraints) and metadata.pattern == SEALED_PATTERN
