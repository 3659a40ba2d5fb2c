"""Find the file and document that declare a resource in the commit a write builds on.

The applied revision says where each resource was declared (``Loaded.location.path``);
that file is read from the base commit first and searched for the document by kind and
name. When the base has moved on (the file was split, renamed, or the resource is newer
than the applied revision) the files of the resource's scope are searched instead:
``clients/<client>/`` for a client's resource, everything outside ``clients/`` for an
MSP-wide one.
"""

from __future__ import annotations

from dataclasses import dataclass

from controller.desired import DesiredState, Scope
from controller.loading.checking import scope_of
from controller.loading.parsing import parse_file
from controller.writing.editing import Found, declares, find
from controller.writing.trees import BaseTree
from schemas.kinds import KINDS
from schemas.limits import MAX_YAML_FILE_BYTES


@dataclass(frozen=True)
class Located:
    """Where a resource is declared in the base commit."""

    path: str
    """Relative to the fleet root."""
    raw: bytes
    found: Found


def hint(applied: DesiredState | None, kind: str, scope: Scope, name: str) -> str | None:
    """The file the applied revision declares the resource in, if it does."""
    if applied is None:
        return None
    loaded = applied.of_kind(KINDS[kind]).get((scope, name))
    return loaded.location.path if loaded is not None else None


def locate(base: BaseTree, kind: str, scope: Scope, name: str, *, hinted: str | None,
           search: bool = True) -> Located | None:
    """The declaration of ``kind`` ``name`` in ``scope`` at ``base``; None when there is none.

    Only the ``hinted`` file is read unless ``search``. RevisionInvalid when the file that
    declares it does not parse (it cannot be edited safely).
    """
    if hinted is not None and scope_of(hinted)[0] == scope:
        raw = base.read(hinted)
        if raw is not None:
            found = find(hinted, raw, kind, name, base.sha)
            if found is not None:
                return Located(hinted, raw, found)
    if not search:
        return None
    for file in base.source().files():
        if file.path == hinted or scope_of(file.path) != (scope, None) or file.symlink:
            continue
        if file.size > MAX_YAML_FILE_BYTES:
            continue
        raw = file.read()
        documents, _problems, _complete = parse_file(file.path, raw)
        if any(declares(document.tree, kind, name) for document in documents):
            found = find(file.path, raw, kind, name, base.sha)
            if found is not None:
                return Located(file.path, raw, found)
    return None
